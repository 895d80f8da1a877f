import Signal

/// The stored state one stanza needs: the receive pipeline's question to `ProtocolStore.load`.
public struct StateRequest: Hashable, Sendable {
    /// The sessions and identities of these devices.
    public var addresses: Set<SignalAddress> = []
    /// Every session, identity and sender key whose address has one of these names, whatever the
    /// device or group: for moving a phone number's state to its LID, and for forgetting a user.
    public var names: Set<String> = []
    public var senderKeys: Set<SenderKeyID> = []
    /// The LID users stored for these phone-number users (messaging.md §1.3).
    public var phoneNumbers: Set<String> = []
    /// The phone-number users stored for these LID users.
    public var lids: Set<String> = []
    /// Which of these one-time prekeys were consumed already.
    public var oneTimePreKeys: Set<UInt32> = []
    /// Which of these messages the inbox holds.
    public var inbox: Set<InboxKey> = []

    public init() {}

    public var isEmpty: Bool {
        addresses.isEmpty && names.isEmpty && senderKeys.isEmpty && phoneNumbers.isEmpty && lids.isEmpty
            && oneTimePreKeys.isEmpty && inbox.isEmpty
    }

    /// What this asks for that `other` did not.
    public func subtracting(_ other: StateRequest) -> StateRequest {
        var rest = StateRequest()
        rest.addresses = addresses.subtracting(other.addresses)
        rest.names = names.subtracting(other.names)
        rest.senderKeys = senderKeys.subtracting(other.senderKeys)
        rest.phoneNumbers = phoneNumbers.subtracting(other.phoneNumbers)
        rest.lids = lids.subtracting(other.lids)
        rest.oneTimePreKeys = oneTimePreKeys.subtracting(other.oneTimePreKeys)
        rest.inbox = inbox.subtracting(other.inbox)
        return rest
    }

    mutating func formUnion(_ other: StateRequest) {
        addresses.formUnion(other.addresses)
        names.formUnion(other.names)
        senderKeys.formUnion(other.senderKeys)
        phoneNumbers.formUnion(other.phoneNumbers)
        lids.formUnion(other.lids)
        oneTimePreKeys.formUnion(other.oneTimePreKeys)
        inbox.formUnion(other.inbox)
    }
}
