import Signal

/// The store key of one sender-key record: the chat as its JID string (`…@g.us`, `status@broadcast`) and
/// the sending device's Signal address (messaging.md §1.2).
public struct SenderKeyID: Hashable, Sendable, CustomStringConvertible {
    public var group: String
    public var sender: SignalAddress

    public init(group: String, sender: SignalAddress) {
        self.group = group
        self.sender = sender
    }

    /// `group|name:device`: the row's name in sealing kinds and logs.
    public var description: String { "\(group)|\(sender)" }
}
