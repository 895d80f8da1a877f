import Hummingbird

/// A refusal the API answers with a problem document; `code` is stable, `detail` is safe to show
/// to the caller (never a token, key or another tenant's data).
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var title: String
    public var detail: String?
    public var headers: HTTPFields
    public var activePairing: ActivePairing?

    public init(_ status: HTTPResponse.Status, _ code: String, _ title: String, detail: String? = nil,
                headers: HTTPFields = [:], activePairing: ActivePairing? = nil) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers
        self.activePairing = activePairing
    }

    public var problem: Problem {
        Problem(status: status, code: code, title: title, detail: detail, activePairing: activePairing)
    }

    public var description: String { "\(status.code) \(code)" + (detail.map { ": \($0)" } ?? "") }

    static func notFound(_ code: String = "not_found", _ title: String = "Not found", detail: String? = nil) -> APIError {
        APIError(.notFound, code, title, detail: detail)
    }

    static func invalid(_ detail: String) -> APIError {
        APIError(.unprocessableContent, "validation_failed", "The request is not valid", detail: detail)
    }

    static let unauthorized = APIError(
        .unauthorized, "unauthorized", "Missing or invalid credentials",
        detail: "send Authorization: Bearer <token>", headers: [.wwwAuthenticate: #"Bearer realm="pairgate""#]
    )
}
