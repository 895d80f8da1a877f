/// Our own account's two identities, which decide whether a stanza is about our own messages.
public struct OwnAccount: Hashable, Sendable {
    /// Our phone-number JID (any device; only the user part is compared).
    public var phoneNumber: JID
    /// Our LID, once the server has told us (`<success lid>`).
    public var lid: JID?

    public init(phoneNumber: JID, lid: JID?) {
        self.phoneNumber = phoneNumber
        self.lid = lid
    }

    /// Whether `jid` is one of our devices: its user is our phone number's or our LID's, as whatsmeow
    /// compares (`parseMessageSource`).
    public func owns(_ jid: JID) -> Bool {
        !jid.user.isEmpty && (jid.user == phoneNumber.user || jid.user == lid?.user)
    }
}
