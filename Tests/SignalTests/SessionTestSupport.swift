import Signal
import WAWire

/// Alice and Bob with fresh seeded keys: Bob publishes a bundle, Alice initiates, both keep their
/// records as the gateway would (the returned record replaces the old one only on success), and
/// Bob's one-time prekeys are deleted once consumed.
struct SessionPair {
    var generator: SeededRandom
    let alice: LocalIdentity
    let bob: LocalIdentity
    let signedPreKeyID: UInt32 = 7
    let signedPreKey: Curve25519KeyPair
    let signature: [UInt8]
    var oneTimePreKeys: [UInt32: Curve25519KeyPair] = [:]
    var aliceRecord = SessionRecord()
    var bobRecord = SessionRecord()

    init(seed: UInt64) throws {
        generator = SeededRandom(seed: seed)
        alice = LocalIdentity(keyPair: Curve25519KeyPair.generate(using: &generator), registrationID: 1111)
        bob = LocalIdentity(keyPair: Curve25519KeyPair.generate(using: &generator), registrationID: 2222)
        signedPreKey = Curve25519KeyPair.generate(using: &generator)
        signature = try CurveSignature.sign([0x05] + signedPreKey.publicKey, privateKey: bob.keyPair.privateKey, randomness: generator.bytes(64))
        for id in 100..<110 as Range<UInt32> {
            oneTimePreKeys[id] = Curve25519KeyPair.generate(using: &generator)
        }
    }

    func bundle(oneTimePreKeyID: UInt32?) -> PreKeyBundle {
        PreKeyBundle(
            registrationID: bob.registrationID,
            identityKey: bob.keyPair.publicKey,
            signedPreKeyID: signedPreKeyID,
            signedPreKey: signedPreKey.publicKey,
            signedPreKeySignature: signature,
            oneTimePreKey: oneTimePreKeyID.map { .init(id: $0, publicKey: oneTimePreKeys[$0]!.publicKey) }
        )
    }

    /// Alice starts a session from Bob's bundle (a new one replaces and archives any current one).
    mutating func aliceInitiates(oneTimePreKeyID: UInt32? = 100) throws {
        aliceRecord = try SessionCipher.initiate(record: aliceRecord, bundle: bundle(oneTimePreKeyID: oneTimePreKeyID), local: alice, using: &generator)
    }

    mutating func aliceSends(_ text: String) throws -> SessionCipher.Encryption {
        let encryption = try SessionCipher.encrypt(Array(text.utf8), record: aliceRecord)
        aliceRecord = encryption.record
        return encryption
    }

    mutating func bobSends(_ text: String) throws -> SessionCipher.Encryption {
        let encryption = try SessionCipher.encrypt(Array(text.utf8), record: bobRecord)
        bobRecord = encryption.record
        return encryption
    }

    /// Bob decrypts; on success his record advances and a consumed one-time prekey is deleted.
    mutating func bobReceives(_ message: SessionCipher.Encryption) throws(SignalError) -> String {
        let decryption = try Self.decrypt(message, record: bobRecord, local: bob, signedPreKeys: [signedPreKeyID: signedPreKey], oneTimePreKeys: oneTimePreKeys, using: &generator)
        bobRecord = decryption.record
        if let consumed = decryption.consumedOneTimePreKeyID {
            oneTimePreKeys[consumed] = nil
        }
        return String(decoding: decryption.plaintext, as: UTF8.self)
    }

    mutating func aliceReceives(_ message: SessionCipher.Encryption) throws(SignalError) -> String {
        let decryption = try Self.decrypt(message, record: aliceRecord, local: alice, signedPreKeys: [:], oneTimePreKeys: [:], using: &generator)
        aliceRecord = decryption.record
        return String(decoding: decryption.plaintext, as: UTF8.self)
    }

    static func decrypt(
        _ message: SessionCipher.Encryption,
        record: SessionRecord,
        local: LocalIdentity,
        signedPreKeys: [UInt32: Curve25519KeyPair],
        oneTimePreKeys: [UInt32: Curve25519KeyPair],
        using generator: inout SeededRandom
    ) throws(SignalError) -> SessionCipher.Decryption {
        switch message.type {
        case .pkmsg:
            return try SessionCipher.decrypt(
                try PreKeyWhisperMessage(parsing: message.serialized),
                record: record,
                local: local,
                signedPreKey: { signedPreKeys[$0] },
                oneTimePreKey: { oneTimePreKeys[$0] },
                using: &generator
            )
        default:
            return try SessionCipher.decrypt(try WhisperMessage(parsing: message.serialized), record: record, using: &generator)
        }
    }
}
