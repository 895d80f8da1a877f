/// A Signal signed prekey: an X25519 pair whose `05 ‖ public key` is signed by the identity key.
public struct SignedPreKey: Sendable {
    /// A fresh companion always uses id 1 (pairing.md §1.1).
    public static let initialID: UInt32 = 1

    /// 24-bit on the wire (`eSkeyID` is 3 bytes).
    public let id: UInt32
    public let keyPair: Curve25519KeyPair
    public let signature: [UInt8]

    /// Restores a stored signed prekey as is.
    public init(id: UInt32, keyPair: Curve25519KeyPair, signature: [UInt8]) {
        self.id = id
        self.keyPair = keyPair
        self.signature = signature
    }

    /// Signs `keyPair` with `identity`; `randomness` is the signature's 64 random bytes.
    public init(id: UInt32, keyPair: Curve25519KeyPair, identity: Curve25519KeyPair, randomness: [UInt8]) throws(PairingError) {
        do {
            let signature = try CurveSignature.sign(
                Self.signedMessage(keyPair.publicKey), privateKey: identity.privateKey, randomness: randomness
            )
            self.init(id: id, keyPair: keyPair, signature: signature)
        } catch {
            throw PairingError(.keyLength)
        }
    }

    /// The 33 bytes the signature covers: libsignal's key-type byte 05, then the public key.
    public static func signedMessage(_ publicKey: [UInt8]) -> [UInt8] {
        [0x05] + publicKey
    }

    /// Whether `signature` is the identity key's signature over this prekey.
    public func isValid(identityPublicKey: [UInt8]) -> Bool {
        CurveSignature.isValid(signature, for: Self.signedMessage(keyPair.publicKey), publicKey: identityPublicKey)
    }
}

/// The keys a brand-new companion registers with (pairing.md §1.1); persist them before pairing is acknowledged.
public struct CompanionKeys: Sendable {
    /// Noise static key; its public half is the QR's second field and the login's server auth key.
    public let noise: Curve25519KeyPair
    public let identity: Curve25519KeyPair
    public let signedPreKey: SignedPreKey
    /// Any UInt32, as whatsmeow sends (Baileys' 0…255 is a bug, not a rule).
    public let registrationID: UInt32
    /// 32 bytes; replaced by companion_reg_refresh rotation or by the link-code derivation.
    public let advSecret: [UInt8]

    /// Restores stored keys as they are.
    public init(
        noise: Curve25519KeyPair,
        identity: Curve25519KeyPair,
        signedPreKey: SignedPreKey,
        registrationID: UInt32,
        advSecret: [UInt8]
    ) {
        self.noise = noise
        self.identity = identity
        self.signedPreKey = signedPreKey
        self.registrationID = registrationID
        self.advSecret = advSecret
    }

    /// Fresh keys from the system's secure generator.
    public static func generate() -> CompanionKeys {
        var rng = SystemRandomNumberGenerator()
        return generate(using: &rng)
    }

    /// Fresh keys from `rng`, so tests can reproduce a device.
    public static func generate(using rng: inout some RandomNumberGenerator) -> CompanionKeys {
        let noise = Curve25519KeyPair.generate(using: &rng)
        let identity = Curve25519KeyPair.generate(using: &rng)
        let preKeyPair = Curve25519KeyPair.generate(using: &rng)
        let signature = CurveSignature.sign(SignedPreKey.signedMessage(preKeyPair.publicKey), privateKey: identity.privateKey)
        return CompanionKeys(
            noise: noise,
            identity: identity,
            signedPreKey: SignedPreKey(id: SignedPreKey.initialID, keyPair: preKeyPair, signature: signature),
            registrationID: UInt32(truncatingIfNeeded: rng.next()),
            advSecret: rng.bytes(32)
        )
    }
}
