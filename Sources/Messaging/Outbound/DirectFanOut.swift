import WAWire

/// Who a 1:1 send goes to (messaging.md §8.1 steps 2 and 4): the chat as addressed on the wire, the
/// phone number carried beside a LID, and the device lists of both accounts from usync.
public struct DirectFanOut: Hashable, Sendable {
    /// The recipient user (no device): its LID when known, else its phone number.
    public var chat: JID
    /// `peer_recipient_pn`, when `chat` is a LID whose phone number is known.
    public var peerRecipientPN: JID?
    /// The recipient's devices.
    public var recipientDevices: [JID]
    /// Our account's devices in the same addressing as `chat`; our own device is skipped when encrypting.
    public var ownDevices: [JID]

    public init(chat: JID, peerRecipientPN: JID? = nil, recipientDevices: [JID], ownDevices: [JID]) {
        self.chat = chat
        self.peerRecipientPN = peerRecipientPN
        self.recipientDevices = recipientDevices
        self.ownDevices = ownDevices
    }

    /// The user JIDs whose device lists a send to `to` needs: the chat and our own account in the same
    /// addressing — LID when `to` is a LID and ours is known, else phone numbers.
    public static func users(for chat: JID, account: OwnAccount) -> (recipient: JID, own: JID) {
        let own = chat.isLID ? (account.lid ?? account.phoneNumber) : account.phoneNumber
        return (chat.userJID, own.userJID)
    }
}
