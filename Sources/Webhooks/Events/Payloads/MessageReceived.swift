import Foundation

/// `message.received`: a message was stored in the device's inbox, emitted by the transaction that
/// stored it (once per row). The fields follow the inbox row.
public struct MessageReceived: Sendable, Hashable, Codable {
    /// The inbox row's id, as `GET /messages` shows it.
    public var messageID: String
    /// WhatsApp's message id; unique with `chat` and `sender`.
    public var waID: String
    /// The chat's JID: the contact for 1:1, the group for groups.
    public var chat: String
    /// The author's JID (in groups, the participant).
    public var sender: String
    /// Sent from the account's own phone.
    public var fromMe: Bool
    /// `text`, or the WhatsApp message kind (`image`, `audio`, `document`, `sticker`, …).
    public var messageType: String
    /// The text of a text message or a caption; null otherwise.
    public var text: String?
    /// WhatsApp's timestamp of the message.
    public var sentAt: Date
    /// When the gateway stored it.
    public var receivedAt: Date

    public init(
        messageID: String, waID: String, chat: String, sender: String, fromMe: Bool,
        messageType: String, text: String?, sentAt: Date, receivedAt: Date
    ) {
        self.messageID = messageID
        self.waID = waID
        self.chat = chat
        self.sender = sender
        self.fromMe = fromMe
        self.messageType = messageType
        self.text = text
        self.sentAt = EventTime.truncated(sentAt)
        self.receivedAt = EventTime.truncated(receivedAt)
    }

    enum CodingKeys: String, CodingKey {
        case chat, sender, text
        case messageID = "message_id"
        case waID = "wa_id"
        case fromMe = "from_me"
        case messageType = "type"
        case sentAt = "sent_at"
        case receivedAt = "received_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(messageID, forKey: .messageID)
        try container.encode(waID, forKey: .waID)
        try container.encode(chat, forKey: .chat)
        try container.encode(sender, forKey: .sender)
        try container.encode(fromMe, forKey: .fromMe)
        try container.encode(messageType, forKey: .messageType)
        try container.encode(text, forKey: .text)
        try container.encode(sentAt, forKey: .sentAt)
        try container.encode(receivedAt, forKey: .receivedAt)
    }
}
