/// The key of one sender-key record: a group (or `status@broadcast`) and the sending device.
///
/// whatsmeow stores it as `chat_id` = the group JID string and `sender_id` = the sender's
/// `SignalAddress` string (messaging.md §1.2); it enters no crypto.
public struct SenderKeyName: Hashable, Sendable, CustomStringConvertible {
    /// The group JID as a string, e.g. `120363000000000000@g.us`.
    public var groupID: String
    public var sender: SignalAddress

    public init(groupID: String, sender: SignalAddress) {
        self.groupID = groupID
        self.sender = sender
    }

    /// python-axolotl's serialization, `group::name::device`, for logs and file names.
    public var description: String { "\(groupID)::\(sender.name)::\(sender.device)" }
}
