import Crypto
import Signal
import WAWire

/// The receiving side of a simulated phone: a contact's, or an account's own phone (device 0). It
/// holds what X3DH as responder needs (messaging.md §6.2): the identity, the signed prekey and the
/// one-time prekeys its bundles handed out.
struct SimReceiver: Sendable {
    /// Device 0 by LID: its sessions are keyed by this address (`SimSender.address`).
    let sender: SimSender
    let signedPreKeyID: UInt32
    let signedPreKey: Curve25519KeyPair
    /// One-time prekey `id`, whether or not it was handed out (the caller checks that).
    let oneTimePreKey: @Sendable (UInt32) -> Curve25519KeyPair
}

extension SimContact {
    var receiver: SimReceiver? {
        guard let signedPreKey = try? Curve25519KeyPair(privateKey: signedPreKeyPrivateKey) else {
            return nil
        }
        let contact = self
        return SimReceiver(
            sender: sender, signedPreKeyID: signedPreKeyID, signedPreKey: signedPreKey,
            oneTimePreKey: { contact.oneTimePreKey($0) }
        )
    }
}

extension SimAccount {
    /// The id of the phone's signed prekey; one for the account's lifetime (whatsmeow never rotates it either).
    static let phoneSignedPreKeyID: UInt32 = 1

    /// The phone's keys are derived from its identity key, so that the state file needs nothing new:
    /// HKDF-SHA256(identity private key, info: label ‖ BE32(id)).
    private func derived(_ label: String, _ id: UInt32) -> [UInt8] {
        let info = Array(label.utf8) + (0..<4).reversed().map { UInt8(truncatingIfNeeded: id >> (8 * $0)) }
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: identityPrivateKey), info: info, outputByteCount: 96)
        return key.withUnsafeBytes { Array($0) }
    }

    /// The phone's one-time prekey `id`.
    func phonePreKey(_ id: UInt32) -> Curve25519KeyPair {
        // Thirty-two bytes are always a valid X25519 private key (clamped on the way in).
        try! Curve25519KeyPair(privateKey: Array(derived("pairgate sim phone prekey", id).prefix(32)))
    }

    /// The phone's signed prekey pair, without its signature (what decrypting needs).
    private var phoneSignedPreKeyPair: Curve25519KeyPair? {
        try? Curve25519KeyPair(privateKey: Array(derived("pairgate sim phone signed prekey", Self.phoneSignedPreKeyID).prefix(32)))
    }

    /// The phone's signed prekey and its signature (XEdDSA with derived randomness, so it is the same every run).
    var phoneSignedPreKey: (keyPair: Curve25519KeyPair, signature: [UInt8])? {
        let material = derived("pairgate sim phone signed prekey", Self.phoneSignedPreKeyID)
        guard let keyPair = try? Curve25519KeyPair(privateKey: Array(material.prefix(32))),
              let signature = try? CurveSignature.sign(
                  [RegistrationKeys.keyType] + keyPair.publicKey, privateKey: identityPrivateKey, randomness: Array(material.suffix(64))
              )
        else {
            return nil
        }
        return (keyPair, signature)
    }

    /// The phone's bundle with one-time prekey `preKeyID` (messaging.md §6.1).
    func phoneBundle(preKeyID: UInt32) -> KeyBundle? {
        guard let identity, let signed = phoneSignedPreKey else {
            return nil
        }
        return KeyBundle(
            registrationID: sender.registrationID, identityKey: identity.publicKey,
            signedPreKey: KeyBundle.SignedPreKey(id: Self.phoneSignedPreKeyID, publicKey: signed.keyPair.publicKey, signature: signed.signature),
            preKey: KeyBundle.PreKey(id: preKeyID, publicKey: phonePreKey(preKeyID).publicKey)
        )
    }

    /// The phone as the receiver of the copies linked devices send it. Only the key pair: signing it
    /// again for every copy (XEdDSA) was most of the simulator's time under `pairgate bench send`.
    var receiver: SimReceiver? {
        guard let signedPreKey = phoneSignedPreKeyPair else {
            return nil
        }
        let account = self
        return SimReceiver(
            sender: sender, signedPreKeyID: Self.phoneSignedPreKeyID, signedPreKey: signedPreKey,
            oneTimePreKey: { account.phonePreKey($0) }
        )
    }
}
