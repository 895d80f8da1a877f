import Foundation
import Hummingbird
import PostgresStore
import WAWire

private struct ClientVersionBody: Decodable {
    var version: String
}

private struct ClientVersionView: Encodable {
    /// What this instance announces on its new connections.
    var inUse: String
    /// What is stored for the fleet (every instance picks it up); absent before the first start.
    var stored: String?
    var source: String?
    var updatedAt: Date?
    var updatedBy: String?
    /// This instance's last check of the version source.
    var lastCheck: CheckView?
}

private struct CheckView: Encodable {
    var at: Date
    var result: String
    var detail: String
}

/// GET and PUT /admin/client-version: the WhatsApp Web version of the whole fleet, read and set by
/// an operator (docs/operations.md, "The WhatsApp Web version").
struct ClientVersionController: Sendable {
    let keeper: ClientVersionKeeper
    let inUse: @Sendable () -> String

    func addRoutes(to router: some RouterMethods<APIContext>) {
        router.get("/client-version", use: show)
        router.put("/client-version", use: set)
    }

    @Sendable func show(_ request: Request, context: APIContext) async throws -> Response {
        try APIJSON.response(.ok, view(try await keeper.stored()))
    }

    @Sendable func set(_ request: Request, context: APIContext) async throws -> Response {
        let body = try await request.decodeJSON(ClientVersionBody.self)
        guard let version = WebClientVersion(body.version), version.description == body.version else {
            throw APIError.invalid("version must look like 2.3000.1023456789")
        }
        return try APIJSON.response(.ok, view(try await keeper.set(version.description)))
    }

    private func view(_ stored: StoredClientVersion?) -> ClientVersionView {
        ClientVersionView(
            inUse: inUse(), stored: stored?.version, source: stored?.source.rawValue,
            updatedAt: stored?.updatedAt, updatedBy: stored?.updatedBy,
            lastCheck: keeper.lastCheck.map { CheckView(at: $0.at, result: $0.result.rawValue, detail: $0.detail) }
        )
    }
}
