import Foundation

/// `endpoint.disabled`: one of the tenant's webhook endpoints was disabled. Sent to the tenant's
/// other endpoints, so someone notices; the endpoint itself gets nothing more until re-enabled.
public struct EndpointDisabled: Sendable, Hashable, Codable {
    public enum Reason: String, Sendable, Hashable, Codable, CaseIterable {
        /// The receiver answered 410 Gone.
        case gone
        /// Every attempt failed for the disabling period (24 h by default).
        case failing
    }

    public var endpointID: UUID
    /// The endpoint's URL without its query (which may hold the receiver's token).
    public var url: String
    public var reason: Reason
    /// Since when every attempt failed; null for `gone`.
    public var failingSince: Date?
    /// The last attempt's result (`http_503`, `timeout`, `private_address`…); null if unknown.
    public var lastError: String?

    public init(endpointID: UUID, url: String, reason: Reason, failingSince: Date?, lastError: String?) {
        self.endpointID = endpointID
        self.url = url
        self.reason = reason
        self.failingSince = failingSince.map(EventTime.truncated)
        self.lastError = lastError
    }

    enum CodingKeys: String, CodingKey {
        case url, reason
        case endpointID = "endpoint_id"
        case failingSince = "failing_since"
        case lastError = "last_error"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeLowercased(endpointID, forKey: .endpointID)
        try container.encode(url, forKey: .url)
        try container.encode(reason, forKey: .reason)
        try container.encode(failingSince, forKey: .failingSince)
        try container.encode(lastError, forKey: .lastError)
    }
}
