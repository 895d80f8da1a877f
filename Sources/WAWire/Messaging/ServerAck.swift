/// The server's `<ack class="message">` for a message we sent (whatsmeow send.go `SendMessage`,
/// messaging.md §8.5): `t` is the message's timestamp, an `error` means it failed.
public struct ServerAck: Hashable, Sendable {
    /// A 1:1 message without the privacy token it needs, usually to a restricted account; do not retry blindly.
    public static let missingPrivacyToken = 463
    /// "smax-invalid": the stanza was rejected, likely a stale device list or addressing.
    public static let invalidStanza = 479

    /// The id of our message.
    public let id: String
    public let from: JID?
    /// `t`: the server's timestamp for the message, Unix seconds.
    public let timestamp: Int64?
    /// `phash`: the server's hash of the devices it expected; differing from ours means some device was
    /// missed and the cached device lists should be dropped.
    public let phash: String?
    /// `error`: nil or 0 on success.
    public let error: Int?
    /// `server_id`: newsletters only.
    public let serverID: String?

    public init(_ node: Node) throws(StanzaError) {
        guard node.tag == "ack" else {
            throw StanzaError(.unexpectedTag, at: node.tag)
        }
        guard try node.optionalString("class") == "message" else {
            throw StanzaError(.invalidAttribute, at: "ack.class")
        }
        id = try node.requiredString("id")
        from = try node.optionalJID("from")
        timestamp = try node.optionalInteger("t")
        phash = try node.optionalString("phash")
        error = try node.optionalInteger("error").flatMap { Int(exactly: $0) }
        serverID = try node.optionalString("server_id")
    }

    /// The message was accepted.
    public var isSuccess: Bool {
        (error ?? 0) == 0
    }

    /// Whether the server's `phash` differs from ours; a missing `phash` never does.
    public func phashDiffers(from ours: String) -> Bool {
        phash.map { !$0.isEmpty && $0 != ours } ?? false
    }
}
