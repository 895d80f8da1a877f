import Foundation
import Hummingbird
import PostgresClient

/// Whether the gateway can serve: the database answers and the schema is this build's.
public struct Readiness: Sendable {
    public enum Outcome: Sendable, Equatable {
        case ready
        case notReady(code: String, detail: String)
    }

    let migrator: Migrator

    public init(migrator: Migrator) {
        self.migrator = migrator
    }

    public func check() async -> Outcome {
        do {
            let status = try await migrator.status()
            if !status.edited.isEmpty {
                return .notReady(code: "schema_edited", detail: "applied migrations were edited: \(status.edited.joined(separator: ", "))")
            }
            if !status.pending.isEmpty {
                return .notReady(code: "schema_not_current", detail: "pending migrations: \(status.pending.map(String.init).joined(separator: ", ")); run pairgate migrate")
            }
            return .ready
        } catch let error as PostgresError {
            return .notReady(code: "database_unavailable", detail: error.description)
        } catch {
            return .notReady(code: "database_unavailable", detail: "the database check failed")
        }
    }
}

/// Liveness and readiness for orchestrators and load balancers.
public struct HealthRoutes: Sendable {
    let readiness: Readiness

    public init(readiness: Readiness) {
        self.readiness = readiness
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        add(to: router)
        return router
    }

    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/healthz") { _, _ in
            jsonResponse(.ok, #"{"status":"ok"}"#)
        }
        router.get("/readyz") { _, _ in
            switch await readiness.check() {
            case .ready:
                return jsonResponse(.ok, #"{"status":"ready"}"#)
            case .notReady(let code, let detail):
                return Problem(status: .serviceUnavailable, code: code, title: "Not ready", detail: detail).response()
            }
        }
    }
}

/// An RFC 9457 problem document with a stable machine-readable `code`.
public struct Problem: Sendable, Codable, Equatable {
    public var type: String
    public var title: String
    public var status: Int
    public var code: String
    public var detail: String?

    public init(status: HTTPResponse.Status, code: String, title: String, detail: String? = nil) {
        self.type = "https://pairgate.dev/problems/\(code)"
        self.title = title
        self.status = status.code
        self.code = code
        self.detail = detail
    }

    public func response() -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(self)) ?? Data(#"{"code":"internal"}"#.utf8)
        return Response(
            status: .init(code: status),
            headers: [.contentType: "application/problem+json"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}

func jsonResponse(_ status: HTTPResponse.Status, _ json: String) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
}
