import Signal
import WAWire

/// Which Signal address a message's sender decrypts with, and what the stanza and the store say about
/// its two identities (messaging.md §1.3, §2.4 step 2).
struct SenderAddressing {
    /// The sending device as the stanza names it.
    let sender: JID
    /// The device whose session decrypts `pkmsg`/`msg` and names the `skmsg` sender key: the LID form
    /// whenever one is known.
    let decryption: JID
    /// The sender device's phone-number form, when known: its state moves to `decryption`.
    let phoneNumberForm: JID?
    /// The mapping to store: the stanza's (or our own account's) LID for the sender's phone number,
    /// when the store does not hold it yet.
    let newMapping: ProtocolChanges.LIDPair?
    /// Whether the store was asked for the sender's phone number yet (so `newMapping` can be trusted).
    let knowsStoredMapping: Bool

    init(_ message: IncomingMessage, sender: JID, state: ProtocolState, device: LocalDevice) {
        self.sender = sender
        var phoneNumberForm: JID?
        var stanzaLID: JID?
        if sender.server == .whatsApp {
            phoneNumberForm = sender
            if let alt = message.source.senderAlt, alt.server == .lid {
                stanzaLID = alt
            }
        } else if sender.server == .lid, let alt = message.source.senderAlt, alt.server == .whatsApp {
            phoneNumberForm = alt
            stanzaLID = sender
        }
        var storedLID: JID?
        var knowsStoredMapping = true
        var newMapping: ProtocolChanges.LIDPair?
        if let phoneNumber = phoneNumberForm?.user {
            knowsStoredMapping = state.covered.phoneNumbers.contains(phoneNumber)
            let stored = state.lidByPhoneNumber[phoneNumber]
            storedLID = stored.map { JID(user: $0, server: .lid) } ?? device.ownLID(forPhoneNumber: phoneNumber)
            // The stanza's pair wins over a stored one (the server knows best); our own account's pair
            // comes from `<success lid>` and is stored like any other.
            if let lid = stanzaLID?.user ?? storedLID?.user, lid != stored {
                newMapping = ProtocolChanges.LIDPair(phoneNumber: phoneNumber, lid: lid)
            }
        }
        decryption = message.decryptionAddress(storedLID: storedLID)
        self.phoneNumberForm = phoneNumberForm
        self.newMapping = knowsStoredMapping ? newMapping : nil
        self.knowsStoredMapping = knowsStoredMapping
    }

    /// Whether the sender's phone-number state must move to its LID: a LID decrypts, and either the
    /// mapping is new or state is still stored under the phone number's address.
    func needsMigration(_ state: ProtocolState) -> Bool {
        guard decryption.server == .lid, let phoneNumberForm, knowsStoredMapping else {
            return false
        }
        if newMapping != nil {
            return true
        }
        let address = SignalAddress(phoneNumberForm)
        return state.sessions[address] != nil || state.identities[address] != nil
            || state.senderKeys.keys.contains { $0.sender == address }
    }

    /// The phone number's Signal address name (`15551234567`), whose rows a migration moves.
    var phoneNumberName: String? {
        phoneNumberForm.map { SignalAddress($0).name }
    }

    /// The LID's Signal address name (`123456789012345_1`).
    var lidName: String {
        SignalAddress(decryption).name
    }
}
