import Crypto

/// Noise_XX_25519_AESGCM_SHA256 as WhatsApp runs it, for the client (initiator) or server (responder).
///
/// WhatsApp deviates from standard Noise in one place: while no cipher key is set, a payload is not
/// mixed into the handshake hash (standard Noise always runs MixHash). `Rules.standard` restores the
/// standard behaviour so the public Noise vectors can check everything else.
public struct NoiseHandshake: Sendable {
    /// Which side of the XX pattern this is.
    public enum Role: Sendable, Hashable {
        case initiator
        case responder
    }

    /// Whether a payload is hashed while no key is set.
    public enum Rules: Sendable, Hashable {
        /// No MixHash while no key is set (on writing and on reading).
        case whatsApp
        /// EncryptAndHash always runs MixHash, as in the Noise specification.
        case standard
    }

    /// `-> e`: the initiator's ephemeral key and a payload that travels in the clear.
    public struct Message1: Sendable, Hashable {
        public var ephemeral: [UInt8]
        public var payload: [UInt8]

        public init(ephemeral: [UInt8], payload: [UInt8] = []) {
            self.ephemeral = ephemeral
            self.payload = payload
        }
    }

    /// `<- e, ee, s, es`: the responder's ephemeral key, its encrypted static key and payload.
    public struct Message2: Sendable, Hashable {
        public var ephemeral: [UInt8]
        public var encryptedStatic: [UInt8]
        public var encryptedPayload: [UInt8]

        public init(ephemeral: [UInt8], encryptedStatic: [UInt8], encryptedPayload: [UInt8]) {
            self.ephemeral = ephemeral
            self.encryptedStatic = encryptedStatic
            self.encryptedPayload = encryptedPayload
        }
    }

    /// `-> s, se`: the initiator's encrypted static key and payload.
    public struct Message3: Sendable, Hashable {
        public var encryptedStatic: [UInt8]
        public var encryptedPayload: [UInt8]

        public init(encryptedStatic: [UInt8], encryptedPayload: [UInt8]) {
            self.encryptedStatic = encryptedStatic
            self.encryptedPayload = encryptedPayload
        }
    }

    /// The connection header `57 41 06 03`, which WhatsApp uses as the prologue.
    public static let whatsAppPrologue: [UInt8] = [0x57, 0x41, 0x06, 0x03]

    /// "Noise_XX_25519_AESGCM_SHA256" padded with zeros to 32 bytes, the initial hash and chaining key.
    static let protocolName: [UInt8] = Array("Noise_XX_25519_AESGCM_SHA256".utf8) + [0, 0, 0, 0]

    private enum Step: Sendable {
        case message1
        case message2
        case message3
        case complete
        case failed
    }

    public let role: Role
    public let rules: Rules
    /// The peer's static public key, known after message 2 (initiator) or message 3 (responder).
    public private(set) var remoteStatic: [UInt8]?
    /// The transcript hash h; after the last message it identifies the session (channel binding).
    public private(set) var handshakeHash: [UInt8]

    private let localStatic: Curve25519KeyPair
    private let localEphemeral: Curve25519KeyPair
    private var remoteEphemeral: [UInt8] = []
    private var chainingKey: [UInt8]
    private var key: SymmetricKey?
    private var counter: UInt64 = 0
    private var step = Step.message1

    /// A fresh handshake; pass `ephemeralKeyPair` only to reproduce known vectors.
    public init(
        role: Role,
        staticKeyPair: Curve25519KeyPair,
        ephemeralKeyPair: Curve25519KeyPair = .generate(),
        prologue: [UInt8] = NoiseHandshake.whatsAppPrologue,
        rules: Rules = .whatsApp
    ) {
        self.role = role
        self.rules = rules
        localStatic = staticKeyPair
        localEphemeral = ephemeralKeyPair
        handshakeHash = Self.protocolName
        chainingKey = Self.protocolName
        mixHash(prologue)
    }

    // MARK: Initiator

    /// Writes message 1. The payload is empty for WhatsApp; it is sent in the clear.
    public mutating func writeMessage1(payload: [UInt8] = []) -> Message1 {
        precondition(role == .initiator && step == .message1, "writeMessage1 is the initiator's first step")
        mixHash(localEphemeral.publicKey)
        if rules == .standard {
            mixHash(payload)
        }
        step = .message2
        return Message1(ephemeral: localEphemeral.publicKey, payload: payload)
    }

    /// Reads message 2 and returns its decrypted payload; `remoteStatic` is set afterwards.
    public mutating func readMessage2(_ message: Message2) throws -> [UInt8] {
        try begin(.message2, as: .initiator)
        guard message.ephemeral.count == 32, message.encryptedStatic.count == 32 + NoiseCipher.tagSize else {
            throw NoiseError(.malformedMessage)
        }
        remoteEphemeral = message.ephemeral
        mixHash(message.ephemeral)
        try mixKey(agreement(localEphemeral, message.ephemeral))
        let remote = try decryptAndHash(message.encryptedStatic)
        try mixKey(agreement(localEphemeral, remote))
        let payload = try decryptAndHash(message.encryptedPayload)
        remoteStatic = remote
        step = .message3
        return payload
    }

    /// Writes message 3, which completes the handshake on the initiator's side.
    public mutating func writeMessage3(payload: [UInt8]) throws -> Message3 {
        try begin(.message3, as: .initiator)
        let encryptedStatic = try encryptAndHash(localStatic.publicKey)
        try mixKey(agreement(localStatic, remoteEphemeral))
        let encryptedPayload = try encryptAndHash(payload)
        step = .complete
        return Message3(encryptedStatic: encryptedStatic, encryptedPayload: encryptedPayload)
    }

    // MARK: Responder

    /// Reads message 1.
    public mutating func readMessage1(_ message: Message1) throws {
        try begin(.message1, as: .responder)
        guard message.ephemeral.count == 32 else {
            throw NoiseError(.malformedMessage)
        }
        remoteEphemeral = message.ephemeral
        mixHash(message.ephemeral)
        if rules == .standard {
            mixHash(message.payload)
        }
        step = .message2
    }

    /// Writes message 2 carrying `payload` (WhatsApp: the certificate chain).
    public mutating func writeMessage2(payload: [UInt8]) throws -> Message2 {
        try begin(.message2, as: .responder)
        mixHash(localEphemeral.publicKey)
        try mixKey(agreement(localEphemeral, remoteEphemeral))
        let encryptedStatic = try encryptAndHash(localStatic.publicKey)
        try mixKey(agreement(localStatic, remoteEphemeral))
        let encryptedPayload = try encryptAndHash(payload)
        step = .message3
        return Message2(ephemeral: localEphemeral.publicKey, encryptedStatic: encryptedStatic, encryptedPayload: encryptedPayload)
    }

    /// Reads message 3 and returns its decrypted payload (WhatsApp: the ClientPayload);
    /// `remoteStatic` is set afterwards and the handshake is complete.
    public mutating func readMessage3(_ message: Message3) throws -> [UInt8] {
        try begin(.message3, as: .responder)
        guard message.encryptedStatic.count == 32 + NoiseCipher.tagSize else {
            throw NoiseError(.malformedMessage)
        }
        let remote = try decryptAndHash(message.encryptedStatic)
        try mixKey(agreement(localEphemeral, remote))
        let payload = try decryptAndHash(message.encryptedPayload)
        remoteStatic = remote
        step = .complete
        return payload
    }

    // MARK: Split

    /// The transport keys: the initiator sends with the first and the responder with the second.
    public func split() -> NoiseTransport {
        precondition(step == .complete, "split() needs a completed handshake")
        let (first, second) = Self.hkdf(chainingKey: chainingKey, inputKeyMaterial: [])
        switch role {
        case .initiator:
            return NoiseTransport(sendKey: SymmetricKey(data: first), receiveKey: SymmetricKey(data: second))
        case .responder:
            return NoiseTransport(sendKey: SymmetricKey(data: second), receiveKey: SymmetricKey(data: first))
        }
    }

    // MARK: Symmetric state

    /// Checks the step and marks the handshake failed until the step succeeds, so a thrown error
    /// leaves it unusable rather than half-advanced.
    private mutating func begin(_ expected: Step, as expectedRole: Role) throws {
        guard role == expectedRole, step == expected else {
            throw NoiseError(.outOfOrder)
        }
        step = .failed
    }

    private mutating func mixHash(_ data: [UInt8]) {
        var hash = SHA256()
        hash.update(data: handshakeHash)
        hash.update(data: data)
        handshakeHash = Array(hash.finalize())
    }

    private mutating func mixKey(_ inputKeyMaterial: [UInt8]) {
        let (nextChainingKey, nextKey) = Self.hkdf(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial)
        chainingKey = nextChainingKey
        key = SymmetricKey(data: nextKey)
        counter = 0
    }

    private mutating func encryptAndHash(_ plaintext: [UInt8]) throws -> [UInt8] {
        guard let key else {
            if rules == .standard {
                mixHash(plaintext)
            }
            return plaintext
        }
        let ciphertext = Array(try NoiseCipher.seal(plaintext, key: key, counter: counter, associatedData: handshakeHash))
        counter += 1
        mixHash(ciphertext)
        return ciphertext
    }

    private mutating func decryptAndHash(_ ciphertext: [UInt8]) throws -> [UInt8] {
        guard let key else {
            if rules == .standard {
                mixHash(ciphertext)
            }
            return ciphertext
        }
        let plaintext = Array(try NoiseCipher.open(ciphertext, key: key, counter: counter, associatedData: handshakeHash))
        counter += 1
        mixHash(ciphertext)
        return plaintext
    }

    private func agreement(_ local: Curve25519KeyPair, _ remote: [UInt8]) throws -> [UInt8] {
        do {
            return try local.sharedSecret(with: remote)
        } catch {
            throw NoiseError(.invalidRemoteKey)
        }
    }

    /// HKDF-SHA256 (RFC 5869) with the chaining key as salt and no info: two 32-byte outputs.
    /// Written out with HMAC because swift-crypto's generic HKDF takes about twice as long for
    /// these sizes, and each side runs it four times per handshake.
    private static func hkdf(chainingKey: [UInt8], inputKeyMaterial: [UInt8]) -> ([UInt8], [UInt8]) {
        let expander = HMACSHA256(key: HMACSHA256.authenticationCode(for: inputKeyMaterial, key: chainingKey))
        var first = expander
        first.update([UInt8(1)])
        let output1 = first.finalize()
        var second = expander
        second.update(output1)
        second.update([UInt8(2)])
        return (output1, second.finalize())
    }
}
