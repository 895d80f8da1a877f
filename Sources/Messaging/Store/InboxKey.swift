/// What makes an inbound message unique in a device's inbox: the chat, the sending device and the
/// WhatsApp id, as the stanza spelled them (JIDs in their string form). A redelivered stanza has the same key.
public struct InboxKey: Hashable, Sendable {
    public var chat: String
    public var sender: String
    public var messageID: String

    public init(chat: String, sender: String, messageID: String) {
        self.chat = chat
        self.sender = sender
        self.messageID = messageID
    }
}
