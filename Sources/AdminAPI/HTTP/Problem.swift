import Foundation
import Hummingbird

/// An RFC 9457 problem document with a stable machine-readable `code`.
public struct Problem: Sendable, Codable, Equatable {
    public var type: String
    public var title: String
    public var status: Int
    public var code: String
    public var detail: String?
    /// For `pairing_in_progress`: the pairing that holds the tenant's lock.
    public var activePairing: ActivePairing?

    public init(status: HTTPResponse.Status, code: String, title: String, detail: String? = nil, activePairing: ActivePairing? = nil) {
        self.type = "https://pairgate.dev/problems/\(code)"
        self.title = title
        self.status = status.code
        self.code = code
        self.detail = detail
        self.activePairing = activePairing
    }

    enum CodingKeys: String, CodingKey {
        case type, title, status, code, detail
        case activePairing = "active_pairing"
    }

    static let bodyTooLarge = Problem(
        status: .contentTooLarge, code: "body_too_large", title: "The request body is too large", detail: "at most \(APIContext.bodyLimit) bytes"
    )

    /// What a request the HTTP parser refused is told.
    static let malformedRequest = Problem(status: .badRequest, code: "bad_request", title: "Bad request", detail: "the request is not valid HTTP/1.1")

    public func response(headers extra: HTTPFields = [:]) -> Response {
        let body = (try? APIJSON.encoder.encode(self)) ?? Data(#"{"code":"internal"}"#.utf8)
        var headers: HTTPFields = [.contentType: "application/problem+json", .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// The running pairing named by a 409 and by GET /status.
public struct ActivePairing: Sendable, Codable, Equatable {
    public var pairingID: UUID?
    public var deviceID: UUID?
    public var expiresAt: Date?

    public init(pairingID: UUID?, deviceID: UUID?, expiresAt: Date?) {
        self.pairingID = pairingID
        self.deviceID = deviceID
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case pairingID = "pairing_id"
        case deviceID = "device_id"
        case expiresAt = "expires_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(pairingID?.api, forKey: .pairingID)
        try container.encodeIfPresent(deviceID?.api, forKey: .deviceID)
        try container.encodeIfPresent(expiresAt, forKey: .expiresAt)
    }
}

extension UUID {
    /// The form the API writes: lowercase, like the ids in its URLs.
    var api: String { uuidString.lowercased() }
}

/// JSON as the API writes it: snake_case keys, ISO 8601 dates, sorted keys (stable output).
enum APIJSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatDate(date))
        }
        return encoder
    }()

    static func formatDate(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    static func response(_ status: HTTPResponse.Status, _ value: some Encodable, headers extra: HTTPFields = [:]) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// A response with a body encoded before (a cached one).
    static func response(_ status: HTTPResponse.Status, encoded body: ByteBuffer) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: body))
    }
}

func jsonResponse(_ status: HTTPResponse.Status, _ json: String) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
}
