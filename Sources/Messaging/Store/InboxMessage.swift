import Foundation

/// One received message as the inbox stores it (direction `in`): where it came from, what it is, its
/// text when it has one, and the decrypted `Message` protobuf as received.
public struct InboxMessage: Hashable, Sendable {
    public var key: InboxKey
    /// The stanza's `t`: when the server accepted the message.
    public var sentAt: Date
    /// A stable name: `text`, `extended_text`, `image`, …, `unknown`, or for protocol messages their
    /// type (`revoke`, `message_edit`, `history_sync_notification`, …); see `MessageType`.
    public var type: String
    public var text: String?
    /// The unpadded plaintext (a `Message` protobuf); empty for app-state key shares, whose keys the
    /// inbox does not expose.
    public var raw: [UInt8]
    /// Sent by the account's own phone or another of its companions.
    public var fromMe: Bool

    public init(key: InboxKey, sentAt: Date, type: String, text: String?, raw: [UInt8], fromMe: Bool) {
        self.key = key
        self.sentAt = sentAt
        self.type = type
        self.text = text
        self.raw = raw
        self.fromMe = fromMe
    }
}
