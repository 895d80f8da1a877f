import Signal
import WAWire

/// Our own device as the receive path needs it: the keys peers encrypt to, the prekey seed, our
/// account's two identities and the signed device identity a retry receipt's `<keys>` carries.
public struct LocalDevice: Sendable {
    /// Our signed prekey: its id, key pair and the identity key's signature over `05 ‖ public key`.
    public struct SignedPreKey: Sendable {
        public var id: UInt32
        public var keyPair: Curve25519KeyPair
        public var signature: [UInt8]

        public init(id: UInt32, keyPair: Curve25519KeyPair, signature: [UInt8]) {
            self.id = id
            self.keyPair = keyPair
            self.signature = signature
        }
    }

    public var identity: LocalIdentity
    public var signedPreKey: SignedPreKey
    /// One-time prekeys are derived from it (`OneTimePreKeys`).
    public var preKeySeed: [UInt8]
    public var account: OwnAccount
    /// Our serialized ADVSignedDeviceIdentity with the account signature key (messaging.md §8.3).
    public var deviceIdentity: [UInt8]

    public init(
        identity: LocalIdentity, signedPreKey: SignedPreKey, preKeySeed: [UInt8], account: OwnAccount, deviceIdentity: [UInt8]
    ) {
        self.identity = identity
        self.signedPreKey = signedPreKey
        self.preKeySeed = preKeySeed
        self.account = account
        self.deviceIdentity = deviceIdentity
    }

    /// The LID a phone-number user of ours goes by, when the account has told us.
    func ownLID(forPhoneNumber user: String) -> JID? {
        guard user == account.phoneNumber.user, let lid = account.lid else {
            return nil
        }
        return lid.userJID
    }

    /// The bundle of a retry receipt: our registration id, identity, signed prekey, the fresh one-time
    /// prekey `preKeyID` (nil when the receipt carries no `<keys>`) and our device identity.
    func retryBundle(preKeyID: UInt32?) -> KeyBundle {
        let preKey = preKeyID.flatMap { id in
            (try? OneTimePreKeys.keyPair(seed: preKeySeed, id: id)).map { KeyBundle.PreKey(id: id, publicKey: $0.publicKey) }
        }
        return KeyBundle(
            registrationID: identity.registrationID,
            identityKey: identity.keyPair.publicKey,
            signedPreKey: KeyBundle.SignedPreKey(
                id: signedPreKey.id, publicKey: signedPreKey.keyPair.publicKey, signature: signedPreKey.signature
            ),
            preKey: preKey,
            deviceIdentity: deviceIdentity
        )
    }
}
