/// Who sent a message or receipt and in which chat (whatsmeow `parseMessageSource`, messaging.md §2.3).
public struct MessageSource: Hashable, Sendable {
    /// The conversation: the peer (no device) for DMs, the group, broadcast or newsletter otherwise; for
    /// our own devices' DMs, the `recipient`.
    public let chat: JID
    /// The sending device: `from` for DMs, `participant` for groups and broadcasts. Nil only for a
    /// group receipt in the grouped form, whose senders are listed per entry.
    public let sender: JID?
    /// The sender is one of our devices.
    public let isFromMe: Bool
    /// `from` is a group or a broadcast (status included): the sender is the `participant`.
    public let isGroup: Bool
    /// The sender's other identity (LID for a PN sender and vice versa), from `sender_lid`/`sender_pn` or
    /// `participant_lid`/`participant_pn`; its device is the sender's when the attribute has none.
    public let senderAlt: JID?
    /// For our own devices' DMs: the chat's other identity (`peer_recipient_pn`/`peer_recipient_lid`).
    public let recipientAlt: JID?

    /// Reads the source attributes of `node`; `requireParticipant` for messages (receipts may omit it).
    init(_ node: Node, own: OwnAccount, requireParticipant: Bool) throws(StanzaError) {
        let from = try node.requiredJID("from")
        var chat: JID
        var sender: JID?
        var isFromMe = false
        var isGroup = false
        var senderAlt: JID?
        var recipientAlt: JID?
        if from.isGroup || from.isBroadcast {
            isGroup = true
            chat = from
            sender = requireParticipant ? try node.requiredJID("participant") : try node.optionalJID("participant")
            let alternate = try node.optionalString("addressing_mode") == "lid" ? "participant_pn" : "participant_lid"
            senderAlt = try node.optionalJID(alternate)
            isFromMe = sender.map(own.owns) ?? false
        } else if from.isNewsletter {
            chat = from
            sender = from
        } else if own.owns(from) {
            isFromMe = true
            sender = from.unhosted
            chat = try node.optionalJID("recipient") ?? from.unhosted.userJID
            recipientAlt = try node.optionalJID(chat.isLID ? "peer_recipient_pn" : "peer_recipient_lid")
        } else {
            let from = from.unhosted
            sender = from
            chat = from.userJID
            senderAlt = try node.optionalJID(from.isLID ? "sender_pn" : "sender_lid")
        }
        if let alt = senderAlt, alt.device == 0, let sender {
            senderAlt = alt.withDevice(sender.device)
        }
        self.chat = chat
        self.sender = sender
        self.isFromMe = isFromMe
        self.isGroup = isGroup
        self.senderAlt = senderAlt
        self.recipientAlt = recipientAlt
    }

    /// The LID ↔ phone-number pair this source reveals, as whatsmeow stores it: the sender's, else the
    /// chat's (own-device DMs).
    public var lidMapping: LIDMapping? {
        if let sender, let senderAlt {
            return LIDMapping(sender, senderAlt)
        }
        if let recipientAlt {
            return LIDMapping(chat, recipientAlt)
        }
        return nil
    }
}
