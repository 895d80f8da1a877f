import WAWire

/// Pairwise Signal sessions (X3DH and the Double Ratchet, libsignal v3): set up, encrypt, decrypt.
///
/// Every function takes the record as a value and returns the advanced record; nothing shared is
/// changed, so the caller commits the new record in the same transaction as what the message did,
/// or drops it. Identity trust is the caller's: results carry the remote identity key to compare
/// with the one on record.
public enum SessionCipher {
    /// The outcome of a decryption: what to commit and what the message consumed.
    public struct Decryption: Sendable {
        public var plaintext: [UInt8]
        /// The record to commit with the message.
        public var record: SessionRecord
        /// The identity key (32 bytes) of the session that decrypted the message.
        public var remoteIdentityKey: [UInt8]
        /// Our one-time prekey a new session used: delete it in the same transaction.
        public var consumedOneTimePreKeyID: UInt32?
        /// Whether a `pkmsg` set up a new current state (any older one was archived).
        public var establishedSession: Bool
    }

    /// The outcome of an encryption.
    public struct Encryption: Sendable {
        /// `pkmsg` until the peer's first message decrypted, then `msg`.
        public var type: CiphertextType
        public var serialized: [UInt8]
        /// The record to commit before the message is sent.
        public var record: SessionRecord
    }

    /// X3DH as initiator from `bundle`: checks the signed prekey's signature, draws a base key and
    /// a first ratchet key from `generator`, and makes the new state current (archiving the old).
    public static func initiate(
        record: SessionRecord,
        bundle: PreKeyBundle,
        local: LocalIdentity,
        using generator: inout some RandomNumberGenerator
    ) throws(SignalError) -> SessionRecord {
        let keys = [bundle.identityKey, bundle.signedPreKey] + (bundle.oneTimePreKey.map { [$0.publicKey] } ?? [])
        guard keys.allSatisfy({ $0.count == 32 }) else {
            throw SignalError(.invalidKey)
        }
        guard CurveSignature.isValid(
            bundle.signedPreKeySignature,
            for: [SignalKeys.djbType] + bundle.signedPreKey,
            publicKey: bundle.identityKey
        ) else {
            throw SignalError(.invalidSignature)
        }
        let baseKey = Curve25519KeyPair.generate(using: &generator)
        let state = try X3DH.initiatorState(local: local, baseKey: baseKey, bundle: bundle, using: &generator)
        var record = record
        record.install(state)
        return record
    }

    /// Encrypts `plaintext` (already WhatsApp-padded) with the current state.
    public static func encrypt(_ plaintext: [UInt8], record: SessionRecord) throws(SignalError) -> Encryption {
        guard var state = record.current else {
            throw SignalError(.noSession)
        }
        let message = try state.encrypt(plaintext)
        var record = record
        record.current = state
        return Encryption(type: message.type, serialized: message.serialized, record: record)
    }

    /// Decrypts a `msg`: current state first, then the archived ones. A new ratchet key draws our
    /// next ratchet key from `generator`. `duplicate` means the message's key was already used.
    public static func decrypt(
        _ message: WhisperMessage,
        record: SessionRecord,
        using generator: inout some RandomNumberGenerator
    ) throws(SignalError) -> Decryption {
        var record = record
        let result = try record.decrypt(message, using: &generator)
        return Decryption(
            plaintext: result.plaintext,
            record: record,
            remoteIdentityKey: result.state.remoteIdentityKey,
            consumedOneTimePreKeyID: nil,
            establishedSession: false
        )
    }

    /// Decrypts a `pkmsg`. A base key no state knows runs X3DH as responder with our signed prekey
    /// and one-time prekey by id (looked up through the closures; an unknown id fails with
    /// `unknown_signed_prekey` / `unknown_prekey`) and makes the new state current. A base key a
    /// state knows (Alice repeating `pkmsg`, or a replay) goes straight to that state, consuming no
    /// prekey.
    public static func decrypt(
        _ message: PreKeyWhisperMessage,
        record: SessionRecord,
        local: LocalIdentity,
        signedPreKey: (UInt32) -> Curve25519KeyPair?,
        oneTimePreKey: (UInt32) -> Curve25519KeyPair?,
        using generator: inout some RandomNumberGenerator
    ) throws(SignalError) -> Decryption {
        var record = record
        var consumed: UInt32?
        let established = !record.containsState(baseKey: message.baseKey)
        if established {
            guard let ourSignedPreKey = signedPreKey(message.signedPreKeyID) else {
                throw SignalError(.unknownSignedPreKey)
            }
            var ourOneTimePreKey: Curve25519KeyPair?
            if let id = message.oneTimePreKeyID {
                guard let key = oneTimePreKey(id) else {
                    throw SignalError(.unknownPreKey)
                }
                ourOneTimePreKey = key
                consumed = id
            }
            let state = try X3DH.responderState(
                local: local,
                signedPreKey: ourSignedPreKey,
                oneTimePreKey: ourOneTimePreKey,
                message: message
            )
            record.install(state)
        }
        let result = try record.decrypt(message.message, using: &generator)
        return Decryption(
            plaintext: result.plaintext,
            record: record,
            remoteIdentityKey: result.state.remoteIdentityKey,
            consumedOneTimePreKeyID: consumed,
            establishedSession: established
        )
    }
}
