import Crypto
import Foundation

/// The companion's half of phone-number pairing (pairing.md §5.3, §5.5): code, wrapped ephemeral, then the key bundle.
public struct LinkCodeCompanion: Sendable {
    public let code: LinkCode
    public let ephemeral: Curve25519KeyPair
    /// `<link_code_pairing_wrapped_companion_ephemeral_pub>` of companion_hello.
    public let wrappedEphemeral: LinkCodeWrappedKey

    /// Starts a pairing with a fresh code, ephemeral key, salt and IV from `rng`.
    public static func start(using rng: inout some RandomNumberGenerator) throws(PairingError) -> LinkCodeCompanion {
        let code = LinkCode.generate(using: &rng)
        let ephemeral = Curve25519KeyPair.generate(using: &rng)
        let wrapped = try LinkCodeWrappedKey(wrapping: ephemeral.publicKey, code: code, using: &rng)
        return LinkCodeCompanion(code: code, ephemeral: ephemeral, wrappedEphemeral: wrapped)
    }

    /// Resumes or replays a pairing from its parts.
    public init(code: LinkCode, ephemeral: Curve25519KeyPair, wrappedEphemeral: LinkCodeWrappedKey) {
        self.code = code
        self.ephemeral = ephemeral
        self.wrappedEphemeral = wrappedEphemeral
    }

    /// Answers primary_hello: the 156-byte key bundle for companion_finish and the ADV secret that replaces the stored one.
    public func finish(
        wrappedPrimaryEphemeral: [UInt8],
        primaryIdentityPublicKey: [UInt8],
        identity: Curve25519KeyPair,
        using rng: inout some RandomNumberGenerator
    ) throws(PairingError) -> LinkCodeCompanionFinish {
        guard wrappedPrimaryEphemeral.count >= LinkCodeWrappedKey.byteCount else {
            throw PairingError(.linkCodeWrappedKeyLength)
        }
        return try finish(
            wrappedPrimaryEphemeral: wrappedPrimaryEphemeral,
            primaryIdentityPublicKey: primaryIdentityPublicKey,
            identity: identity,
            advRandom: rng.bytes(32),
            bundleSalt: rng.bytes(32),
            bundleNonce: rng.bytes(12)
        )
    }

    /// As `finish(…using:)` with the three random values given (32, 32 and 12 bytes).
    public func finish(
        wrappedPrimaryEphemeral: [UInt8],
        primaryIdentityPublicKey: [UInt8],
        identity: Curve25519KeyPair,
        advRandom: [UInt8],
        bundleSalt: [UInt8],
        bundleNonce: [UInt8]
    ) throws(PairingError) -> LinkCodeCompanionFinish {
        // Every size is checked before the deliberately slow PBKDF2 runs. A longer key is read from
        // its first 80 bytes, as whatsmeow reads it, so a phone that appends bytes still pairs.
        guard wrappedPrimaryEphemeral.count >= LinkCodeWrappedKey.byteCount else {
            throw PairingError(.linkCodeWrappedKeyLength)
        }
        let wrapped = try LinkCodeWrappedKey(bytes: Array(wrappedPrimaryEphemeral.prefix(LinkCodeWrappedKey.byteCount)))
        guard primaryIdentityPublicKey.count == 32, advRandom.count == 32, bundleSalt.count == 32, bundleNonce.count == 12
        else {
            throw PairingError(.keyLength)
        }
        let primaryEphemeral = try wrapped.unwrap(code: code)
        let ephemeralShared = try LinkCodeSecrets.agree(ephemeral, primaryEphemeral)
        let bundle = try LinkCodeKeyBundle.seal(
            companionIdentity: identity.publicKey,
            primaryIdentity: primaryIdentityPublicKey,
            advRandom: advRandom,
            ephemeralShared: ephemeralShared,
            salt: bundleSalt,
            nonce: bundleNonce
        )
        let identityShared = try LinkCodeSecrets.agree(identity, primaryIdentityPublicKey)
        return LinkCodeCompanionFinish(
            wrappedKeyBundle: bundle,
            advSecret: LinkCodeSecrets.advSecret(
                ephemeralShared: ephemeralShared, identityShared: identityShared, advRandom: advRandom
            )
        )
    }
}

/// What the companion sends in companion_finish and keeps as its new ADV secret.
public struct LinkCodeCompanionFinish: Sendable, Hashable {
    /// `<link_code_pairing_wrapped_key_bundle>`: `salt(32) ‖ nonce(12) ‖ AES-GCM(ct 96 ‖ tag 16)`, 156 bytes.
    public let wrappedKeyBundle: [UInt8]
    /// Replaces the companion's ADV secret; the pair-success HMAC is keyed with it.
    public let advSecret: [UInt8]
}

/// The phone's half of phone-number pairing, for the simulator (pairing.md §5.6).
public struct LinkCodePrimary: Sendable {
    public let code: LinkCode
    /// The companion's ephemeral public key, unwrapped from companion_hello with the typed code.
    public let companionEphemeralPublicKey: [UInt8]
    public let ephemeral: Curve25519KeyPair
    /// `<link_code_pairing_wrapped_primary_ephemeral_pub>` of primary_hello.
    public let wrappedEphemeral: LinkCodeWrappedKey

    /// Handles companion_hello with the code the user typed: unwraps the companion's key and wraps a fresh one of ours.
    public static func accept(
        wrappedCompanionEphemeral: [UInt8],
        code: LinkCode,
        using rng: inout some RandomNumberGenerator
    ) throws(PairingError) -> LinkCodePrimary {
        let companionWrapped = try LinkCodeWrappedKey(bytes: wrappedCompanionEphemeral)
        let ephemeral = Curve25519KeyPair.generate(using: &rng)
        return try accept(
            companionWrapped,
            code: code,
            ephemeral: ephemeral,
            salt: rng.bytes(32),
            iv: rng.bytes(16)
        )
    }

    /// As `accept(…using:)` with our ephemeral key pair, salt (32 bytes) and IV (16 bytes) given.
    public static func accept(
        wrappedCompanionEphemeral: [UInt8],
        code: LinkCode,
        ephemeral: Curve25519KeyPair,
        salt: [UInt8],
        iv: [UInt8]
    ) throws(PairingError) -> LinkCodePrimary {
        try accept(LinkCodeWrappedKey(bytes: wrappedCompanionEphemeral), code: code, ephemeral: ephemeral, salt: salt, iv: iv)
    }

    private static func accept(
        _ companionWrapped: LinkCodeWrappedKey,
        code: LinkCode,
        ephemeral: Curve25519KeyPair,
        salt: [UInt8],
        iv: [UInt8]
    ) throws(PairingError) -> LinkCodePrimary {
        // Our own wrap first: its size checks come before either PBKDF2 run.
        let wrapped = try LinkCodeWrappedKey(wrapping: ephemeral.publicKey, code: code, salt: salt, iv: iv)
        return LinkCodePrimary(
            code: code,
            companionEphemeralPublicKey: try companionWrapped.unwrap(code: code),
            ephemeral: ephemeral,
            wrappedEphemeral: wrapped
        )
    }

    /// Resumes or replays the phone's side from its parts.
    public init(code: LinkCode, companionEphemeralPublicKey: [UInt8], ephemeral: Curve25519KeyPair, wrappedEphemeral: LinkCodeWrappedKey) {
        self.code = code
        self.companionEphemeralPublicKey = companionEphemeralPublicKey
        self.ephemeral = ephemeral
        self.wrappedEphemeral = wrappedEphemeral
    }

    /// Handles companion_finish: opens the bundle, checks both identity keys and derives the shared ADV secret.
    ///
    /// A mistyped code surfaces here as `linkCodeBundleAuthentication`, since the two sides then hold different ephemerals.
    public func finish(
        wrappedKeyBundle: [UInt8],
        companionIdentityPublicKey: [UInt8],
        identity: Curve25519KeyPair
    ) throws(PairingError) -> [UInt8] {
        let bundle = try LinkCodeKeyBundle(bytes: wrappedKeyBundle)
        guard companionIdentityPublicKey.count == 32 else { throw PairingError(.keyLength) }
        let ephemeralShared = try LinkCodeSecrets.agree(ephemeral, companionEphemeralPublicKey)
        let plaintext = try bundle.open(ephemeralShared: ephemeralShared)
        guard Array(plaintext[0..<32]) == companionIdentityPublicKey, Array(plaintext[32..<64]) == identity.publicKey else {
            throw PairingError(.linkCodeIdentityMismatch)
        }
        let advRandom = Array(plaintext[64..<96])
        let identityShared = try LinkCodeSecrets.agree(identity, companionIdentityPublicKey)
        return LinkCodeSecrets.advSecret(ephemeralShared: ephemeralShared, identityShared: identityShared, advRandom: advRandom)
    }
}

/// The key bundle of companion_finish, split from its 156 wire bytes.
struct LinkCodeKeyBundle {
    static let byteCount = 156
    static let info = Array("link_code_pairing_key_bundle_encryption_key".utf8)

    let salt: [UInt8]
    let nonce: [UInt8]
    /// 96 bytes of ciphertext followed by the 16-byte tag.
    let sealed: [UInt8]

    init(bytes: [UInt8]) throws(PairingError) {
        guard bytes.count == Self.byteCount else { throw PairingError(.linkCodeBundleLength) }
        salt = Array(bytes[0..<32])
        nonce = Array(bytes[32..<44])
        sealed = Array(bytes[44..<156])
    }

    static func key(ephemeralShared: [UInt8], salt: [UInt8]) -> [UInt8] {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: ephemeralShared), salt: salt, info: info, outputByteCount: 32
        )
        return key.withUnsafeBytes { Array($0) }
    }

    static func seal(
        companionIdentity: [UInt8],
        primaryIdentity: [UInt8],
        advRandom: [UInt8],
        ephemeralShared: [UInt8],
        salt: [UInt8],
        nonce: [UInt8]
    ) throws(PairingError) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(
                companionIdentity + primaryIdentity + advRandom,
                using: SymmetricKey(data: key(ephemeralShared: ephemeralShared, salt: salt)),
                nonce: AES.GCM.Nonce(data: nonce)
            )
            return salt + nonce + [UInt8](box.ciphertext) + [UInt8](box.tag)
        } catch {
            throw PairingError(.linkCodeCrypto)
        }
    }

    /// The 96-byte plaintext: companion identity, primary identity, ADV random.
    func open(ephemeralShared: [UInt8]) throws(PairingError) -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: nonce), ciphertext: sealed[0..<96], tag: sealed[96..<112]
            )
            let key = SymmetricKey(data: Self.key(ephemeralShared: ephemeralShared, salt: salt))
            return try [UInt8](AES.GCM.open(box, using: key))
        } catch {
            throw PairingError(.linkCodeBundleAuthentication)
        }
    }
}

/// The agreements and the final derivation both sides share.
enum LinkCodeSecrets {
    static let advSecretInfo = Array("adv_secret".utf8)

    static func agree(_ keyPair: Curve25519KeyPair, _ publicKey: [UInt8]) throws(PairingError) -> [UInt8] {
        do {
            return try keyPair.sharedSecret(with: publicKey)
        } catch {
            throw PairingError(.linkCodeKeyAgreement)
        }
    }

    /// HKDF-SHA256 with no salt over `eph_shared ‖ id_shared ‖ advRandom`, info "adv_secret".
    static func advSecret(ephemeralShared: [UInt8], identityShared: [UInt8], advRandom: [UInt8]) -> [UInt8] {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: ephemeralShared + identityShared + advRandom),
            info: advSecretInfo,
            outputByteCount: 32
        )
        return key.withUnsafeBytes { Array($0) }
    }
}
