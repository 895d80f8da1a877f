/// The addressing attributes of an inbound stanza exactly as decoded, so that acks and receipts echo them
/// byte for byte: same value, same JID-or-string form (messaging.md §1.4, §3.2, §4.1).
///
/// Built from any stanza (`message`, `receipt`, `notification`, `call`), even one that failed to parse,
/// because a malformed stanza still needs its nack.
public struct StanzaEnvelope: Hashable, Sendable {
    /// `message`, `receipt`, `notification` or `call`: the ack's `class`.
    public let tag: String
    public let id: AttributeValue?
    public let from: AttributeValue?
    public let participant: AttributeValue?
    public let recipient: AttributeValue?
    public let type: AttributeValue?
    /// The stanza's `t`, echoed in a retry receipt's `<retry t>`.
    public let timestamp: AttributeValue?

    public init(_ node: Node) {
        tag = node.tag
        id = node.attributes["id"]
        from = node.attributes["from"]
        participant = node.attributes["participant"]
        recipient = node.attributes["recipient"]
        type = node.attributes["type"]
        timestamp = node.attributes["t"]
    }

    /// The `<ack>` for this stanza (whatsmeow `sendAck`, messaging.md §3.2): `class` is the tag; `id`,
    /// `to` (= our `from`), `participant` and `recipient` are copied verbatim; `type` is copied except for
    /// messages; `error` only for a nack.
    public func ack(error: NackCode? = nil) -> Node {
        var attributes: Node.Attributes = ["class": .string(tag)]
        attributes["id"] = id
        attributes["to"] = from
        attributes["participant"] = participant
        attributes["recipient"] = recipient
        if tag != "message" {
            attributes["type"] = type
        }
        if let error {
            attributes["error"] = .string(error.description)
        }
        return Node("ack", attributes)
    }

    /// A `<receipt>` answering this stanza, addressed as whatsmeow's `buildBaseReceipt`: `id`, `to` (= our
    /// `from`), `recipient` and `participant` verbatim, then `type` when given.
    func receipt(type: String?, _ children: [Node] = []) -> Node {
        var attributes: Node.Attributes = [:]
        attributes["id"] = id
        attributes["to"] = from
        attributes["recipient"] = recipient
        attributes["participant"] = participant
        if let type {
            attributes["type"] = .string(type)
        }
        return children.isEmpty ? Node("receipt", attributes) : Node("receipt", attributes, children)
    }
}
