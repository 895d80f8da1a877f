/// The three Standard Webhooks headers of one attempt.
public struct WebhookHeaders: Sendable, Hashable {
    public static let idName = "webhook-id"
    public static let timestampName = "webhook-timestamp"
    public static let signatureName = "webhook-signature"

    /// The event's id: the same on every attempt and every replay, so receivers can deduplicate.
    public var id: String
    /// The attempt's time, Unix seconds.
    public var timestamp: Int64
    /// One or more `v1,<base64>` separated by spaces, the current secret's first.
    public var signature: String

    public init(id: String, timestamp: Int64, signature: String) {
        self.id = id
        self.timestamp = timestamp
        self.signature = signature
    }

    /// The headers as name–value pairs, in the specification's order.
    public var fields: [(name: String, value: String)] {
        [(Self.idName, id), (Self.timestampName, String(timestamp)), (Self.signatureName, signature)]
    }
}
