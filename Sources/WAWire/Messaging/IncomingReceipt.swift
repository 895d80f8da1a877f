/// An inbound `<receipt>`: how far messages got, or a retry request (whatsmeow `parseReceipt`,
/// `handleGroupedReceipt`, messaging.md §4.3, §5.2). Every receipt is acked (`envelope.ack()`), a
/// malformed one with the `StanzaError`'s nack (487); a retry receipt only after it was answered.
public struct IncomingReceipt: Hashable, Sendable {
    /// How far a message we sent got on the device that receipted it.
    public enum Progress: String, Hashable, Sendable {
        /// No `type`, or `inactive` (delivered to a device in the background).
        case delivered
        case read
        /// A voice note or view-once message was played.
        case played
    }

    /// One member's receipt in the grouped form: `<participants key="<id>"><user jid t/>`.
    public struct GroupedEntry: Hashable, Sendable {
        public let messageID: String
        public let device: JID
        public let timestamp: Int64
    }

    /// More ids (or grouped entries) than one receipt carries in practice.
    public static let maxMessageIDs = 4096

    public let envelope: StanzaEnvelope
    public let from: JID
    public let participant: JID?
    public let recipient: JID?
    /// `type`: none, `sender`, `read`, `read-self`, `played`, `played-self`, `inactive`, `retry`,
    /// `server-error`, `peer_msg`, `hist_sync`, …
    public let type: String?
    /// `t`, Unix seconds; required except in the grouped form, where each entry has its own.
    public let timestamp: Int64?
    /// Chat and sender; `isFromMe` means the receipt is about our own messages seen on our other devices.
    public let source: MessageSource
    /// `id` and the ids of `<list><item id/>`, all with the same meaning; empty in the grouped form.
    public let messageIDs: [String]
    /// The grouped form (a group's `from`, no `participant`): one entry per member device.
    public let grouped: [GroupedEntry]
    /// The retry request of a `type="retry"` receipt.
    public let retry: RetryRequest?

    public init(_ node: Node, own: OwnAccount) throws(StanzaError) {
        guard node.tag == "receipt" else {
            throw StanzaError(.unexpectedTag, at: node.tag)
        }
        envelope = StanzaEnvelope(node)
        source = try MessageSource(node, own: own, requireParticipant: false)
        from = try node.requiredJID("from")
        participant = try node.optionalJID("participant")
        recipient = try node.optionalJID("recipient")
        type = try node.optionalString("type")
        timestamp = try node.optionalInteger("t")

        if source.isGroup, source.sender == nil {
            let blocks = node.children(named: "participants")
            guard !blocks.isEmpty else {
                throw StanzaError(.missingChild, at: "receipt/participants")
            }
            var entries: [GroupedEntry] = []
            for block in blocks {
                // whatsmeow skips what it cannot read in a grouped receipt and handles the rest.
                guard case .string(let key)? = block.attributes["key"], !key.isEmpty else {
                    continue
                }
                for user in block.children where user.tag == "user" {
                    guard let device = try? user.requiredJID("jid"), let time = try? user.requiredInteger("t") else {
                        continue
                    }
                    guard entries.count < Self.maxMessageIDs else {
                        throw StanzaError(.limitExceeded, at: "receipt/participants")
                    }
                    entries.append(GroupedEntry(messageID: key, device: device, timestamp: time))
                }
            }
            messageIDs = []
            grouped = entries
            retry = nil
            return
        }

        guard timestamp != nil else {
            throw StanzaError(.missingAttribute, at: "receipt.t")
        }
        var ids = [try node.requiredString("id")]
        if let list = node.child("list") {
            for item in try list.children(limit: Self.maxMessageIDs) where item.tag == "item" {
                if case .string(let id)? = item.attributes["id"], !id.isEmpty {
                    ids.append(id)
                }
            }
        }
        messageIDs = ids
        grouped = []
        retry = type == "retry" ? try RetryRequest(node, isGroup: source.isGroup) : nil
    }

    /// The progress this receipt reports for messages we sent to another account; nil for receipts from
    /// our own devices' reading (`read-self`, `played-self`, `sender`), retries and protocol receipts.
    public var progress: Progress? {
        switch type {
        case nil, "", "inactive": .delivered
        case "read": .read
        case "played": .played
        default: nil
        }
    }
}
