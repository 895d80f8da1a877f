import WAWire

/// Sender keys for groups (libsignal's GroupSessionBuilder and GroupCipher): our distribution
/// message, processing others', and `skmsg` encryption and decryption.
///
/// Records are values keyed by `SenderKeyName`; every function returns the record to commit.
public enum GroupCipher {
    /// The outcome of a group decryption.
    public struct Decryption: Sendable {
        public var plaintext: [UInt8]
        public var record: SenderKeyRecord
    }

    /// The outcome of a group encryption (the `skmsg` bytes).
    public struct Encryption: Sendable {
        public var serialized: [UInt8]
        public var record: SenderKeyRecord
    }

    /// The outcome of asking for our distribution message.
    public struct Distribution: Sendable {
        public var message: SenderKeyDistributionMessage
        public var record: SenderKeyRecord
    }

    /// Our distribution message for a group; an empty record first gets a new sender key: a key id,
    /// a chain key and a signing key pair drawn from `generator` in that order (as libsignal draws).
    public static func distributionMessage(
        record: SenderKeyRecord,
        using generator: inout some RandomNumberGenerator
    ) throws(SignalError) -> Distribution {
        var record = record
        if record.isEmpty {
            let keyID = UInt32(truncatingIfNeeded: generator.next()) & 0x7FFF_FFFF
            let chainKey = SignalKeys.randomBytes(32, using: &generator)
            let signingKey = Curve25519KeyPair.generate(using: &generator)
            record.add(SenderKeyState(
                keyID: keyID,
                chainKey: ChainKey(key: chainKey, index: 0),
                signingPublicKey: signingKey.publicKey,
                signingPrivateKey: signingKey.privateKey,
                storedKeys: []
            ))
        }
        let state = record.states[0]
        guard state.signingPrivateKey != nil else {
            throw SignalError(.noSenderKey)
        }
        let message = SenderKeyDistributionMessage(
            keyID: state.keyID,
            iteration: state.chainKey.index,
            chainKey: state.chainKey.key,
            signingKey: state.signingPublicKey
        )
        return Distribution(message: message, record: record)
    }

    /// Installs a sender's key from its distribution message (which arrived pairwise-encrypted).
    public static func process(_ message: SenderKeyDistributionMessage, record: SenderKeyRecord) -> SenderKeyRecord {
        var record = record
        record.add(SenderKeyState(
            keyID: message.keyID,
            chainKey: ChainKey(key: message.chainKey, index: message.iteration),
            signingPublicKey: message.signingKey,
            signingPrivateKey: nil,
            storedKeys: []
        ))
        return record
    }

    /// Encrypts `plaintext` (already WhatsApp-padded) with our newest sender key and signs it with
    /// 64 bytes of XEdDSA randomness from `generator`.
    public static func encrypt(
        _ plaintext: [UInt8],
        record: SenderKeyRecord,
        using generator: inout some RandomNumberGenerator
    ) throws(SignalError) -> Encryption {
        guard var state = record.states.first, let signingKey = state.signingPrivateKey else {
            throw SignalError(.noSenderKey)
        }
        let chainKey = state.chainKey
        guard chainKey.index < UInt32.max else {
            throw SignalError(.counterExhausted)
        }
        let keys = SenderMessageKeys(seed: chainKey.messageKeySeed)
        let ciphertext = try MessageBodyCipher.encrypt(plaintext, key: keys.cipherKey, iv: keys.iv)
        let message = try SenderKeyMessage(
            keyID: state.keyID,
            iteration: chainKey.index,
            ciphertext: ciphertext,
            signingKey: signingKey,
            randomness: SignalKeys.randomBytes(64, using: &generator)
        )
        state.chainKey = chainKey.next
        var record = record
        record.states[0] = state
        return Encryption(serialized: message.serialized, record: record)
    }

    /// Decrypts a `skmsg`: the state with its key id (`no_sender_key` without one), its signature
    /// (`invalid_signature`), then the iteration: a stored key for a late message, `duplicate` for
    /// a used one, `too_far_ahead` beyond 2,000.
    public static func decrypt(_ message: SenderKeyMessage, record: SenderKeyRecord) throws(SignalError) -> Decryption {
        guard let index = record.states.firstIndex(where: { $0.keyID == message.keyID }) else {
            throw SignalError(.noSenderKey)
        }
        var state = record.states[index]
        guard message.hasValidSignature(signingKey: state.signingPublicKey) else {
            throw SignalError(.invalidSignature)
        }
        let keys = SenderMessageKeys(seed: try state.messageKeySeed(for: message.iteration))
        let plaintext = try MessageBodyCipher.decrypt(message.ciphertext, key: keys.cipherKey, iv: keys.iv)
        var record = record
        record.states[index] = state
        record.enforceBounds()
        return Decryption(plaintext: plaintext, record: record)
    }
}
