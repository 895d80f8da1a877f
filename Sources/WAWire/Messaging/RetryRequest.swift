/// A peer's retry receipt: it could not decrypt our message `messageID` and asks for it again
/// (whatsmeow `handleRetryReceipt`, messaging.md §5.2).
public struct RetryRequest: Hashable, Sendable {
    /// The receipt's addressing, echoed by `resend`.
    public let envelope: StanzaEnvelope
    /// The receipt came from a group or broadcast (the resend then has no `device_fanout="false"`).
    public let isGroup: Bool
    /// `<retry id>`: the message to send again.
    public let messageID: String
    /// `<retry t>`: the original message's timestamp, echoed on the resend.
    public let timestamp: Int64
    /// `<retry count>`: 1, 2, …; the resend's `<enc count>`.
    public let count: Int
    /// `<registration>` on the receipt: the requesting device's registration id.
    public let registrationID: UInt32?
    /// `<keys>` (with the receipt's `<registration>`): a bundle to build a new session from, so no prekey
    /// fetch is needed.
    public let keys: KeyBundle?
    /// The receipt's `edit`, copied onto the resend as whatsmeow does.
    public let edit: String?

    init(_ node: Node, isGroup: Bool) throws(StanzaError) {
        envelope = StanzaEnvelope(node)
        self.isGroup = isGroup
        guard let retry = node.child("retry") else {
            throw StanzaError(.missingChild, at: "receipt/retry")
        }
        messageID = try retry.requiredString("id")
        timestamp = try retry.requiredInteger("t")
        guard let count = Int(exactly: try retry.requiredInteger("count")), count >= 0 else {
            throw StanzaError(.invalidAttribute, at: "retry.count")
        }
        self.count = count
        if let registration = node.child("registration") {
            registrationID = try registration.binaryContent(length: 4).reduce(0) { $0 << 8 | UInt32($1) }
        } else {
            registrationID = nil
        }
        keys = node.child("keys") == nil ? nil : try KeyBundle(parsing: node)
        edit = try node.optionalString("edit")
    }
}
