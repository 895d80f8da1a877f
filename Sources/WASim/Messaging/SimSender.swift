import Signal
import WAWire

/// The Signal identity of a simulated phone that sends messages: a contact's, or an account's own
/// phone (device 0), which writes to the account's linked devices as a DeviceSentMessage.
struct SimSender: Sendable, Hashable {
    /// Device 0 by phone number, `<phone>@s.whatsapp.net`.
    let phone: JID
    /// Device 0 by LID, `<lid>@lid`: the address its sessions are known by.
    let lid: JID
    let identityPrivateKey: [UInt8]
    let registrationID: UInt32
    /// The `notify` attribute; nil for an account's own phone.
    let pushName: String?

    /// Its identity for `SessionCipher`; nil when the stored key is not 32 bytes.
    var local: LocalIdentity? {
        (try? Curve25519KeyPair(privateKey: identityPrivateKey)).map { LocalIdentity(keyPair: $0, registrationID: registrationID) }
    }

    /// The key of its sessions and sender keys: its LID's Signal address, `<lid>_1:0`.
    var address: String { SignalAddress(lid).description }
}

extension SimAccount {
    /// The account's phone as a sender: its identity key is the one that signs its companions (WhatsApp's
    /// primary device uses one key for both), and its registration id is derived from the ADV raw id.
    var sender: SimSender {
        SimSender(
            phone: jid, lid: JID(user: lidUser, server: .lid), identityPrivateKey: identityPrivateKey,
            registrationID: rawID % 16380 + 1, pushName: nil
        )
    }
}
