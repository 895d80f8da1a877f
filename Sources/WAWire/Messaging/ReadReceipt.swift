/// Read and played receipts we send for messages we received (whatsmeow receipt.go `MarkRead`,
/// messaging.md §4.2).
public enum ReadReceipt {
    /// `read`, `read-self` (our read-receipts privacy is `none`, and newsletters), or `played`.
    public enum Kind: String, Hashable, Sendable {
        case read
        case readSelf = "read-self"
        case played
    }

    /// One receipt for `ids` (at least one), all sent by `sender` in `chat`: the first id on the receipt,
    /// the rest as `<list><item id/>`. `participant` is the sender's account in groups and broadcasts
    /// (not in DMs); `t` is when they were read. Nil for an empty `ids`.
    public static func build(ids: [String], chat: JID, sender: JID?, kind: Kind, unixSeconds: Int64) -> Node? {
        guard let first = ids.first else {
            return nil
        }
        var attributes: Node.Attributes = [
            "id": .string(first), "type": .string(kind.rawValue), "to": .jid(chat), "t": .string(String(unixSeconds)),
        ]
        if let sender, ![.whatsApp, .lid, .messenger].contains(chat.server) {
            attributes["participant"] = .jid(sender.userJID)
        }
        guard ids.count > 1 else {
            return Node("receipt", attributes)
        }
        return Node("receipt", attributes, [Node("list", ids.dropFirst().map { Node("item", ["id": .string($0)]) })])
    }
}
