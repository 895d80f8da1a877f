import Messaging
import Signal
import WAClient
import WAWire

extension LocalDevice {
    /// The receive path's view of paired credentials; nil before pairing (no account) or when a key
    /// does not load.
    public init?(credentials: DeviceCredentials) {
        guard let account = credentials.account, let phoneNumber = JID(parsing: account.jid),
              let identity = try? Curve25519KeyPair(privateKey: credentials.identityKey),
              let signedPreKey = try? Curve25519KeyPair(privateKey: credentials.signedPreKey)
        else {
            return nil
        }
        self.init(
            identity: LocalIdentity(keyPair: identity, registrationID: credentials.registrationID),
            signedPreKey: SignedPreKey(id: credentials.signedPreKeyID, keyPair: signedPreKey, signature: credentials.signedPreKeySignature),
            preKeySeed: credentials.preKeySeed,
            account: OwnAccount(phoneNumber: phoneNumber, lid: account.lid.flatMap(JID.init(parsing:))),
            deviceIdentity: account.signedIdentity
        )
    }
}
