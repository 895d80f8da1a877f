import WAWire

/// A `msg`: libsignal's SignalMessage, `0x33 ‖ protobuf ‖ MAC(8)`.
///
/// Protobuf fields: 1 ratchetKey (33 bytes), 2 counter, 3 previousCounter, 4 ciphertext. The MAC is
/// the first 8 bytes of HMAC-SHA-256(macKey, senderIdentity(33) ‖ receiverIdentity(33) ‖ 0x33 ‖ protobuf),
/// computed over the bytes as received.
public struct WhisperMessage: Sendable, Equatable {
    static let macLength = 8

    /// The sender's current ratchet public key (32 bytes, without the `0x05` type byte).
    public let ratchetKey: [UInt8]
    public let counter: UInt32
    public let previousCounter: UInt32
    public let ciphertext: [UInt8]
    /// The whole message, as received or as built.
    public let serialized: [UInt8]

    /// Parses untrusted bytes; fails with `invalid_message`, `invalid_key` or `unsupported_version`.
    public init(parsing bytes: [UInt8]) throws(SignalError) {
        try SignalKeys.checkVersion(bytes)
        guard bytes.count > 1 + Self.macLength else {
            throw SignalError(.invalidMessage)
        }
        var reader = ProtobufReader(bytes[1..<(bytes.count - Self.macLength)])
        var ratchetKey: [UInt8]?
        var counter: UInt32?
        var previousCounter: UInt32 = 0
        var ciphertext: [UInt8]?
        while let field = try reader.next() {
            switch field.number {
            case 1: ratchetKey = try field.value.publicKey()
            case 2: counter = try field.value.uint32()
            case 3: previousCounter = try field.value.uint32()
            case 4: ciphertext = Array(try field.value.bytes())
            default: continue
            }
        }
        // A counter of UInt32.max would leave its chain nowhere to advance to.
        guard let ratchetKey, let counter, counter < UInt32.max, let ciphertext,
              !ciphertext.isEmpty, ciphertext.count % 16 == 0
        else {
            throw SignalError(.invalidMessage)
        }
        self.ratchetKey = ratchetKey
        self.counter = counter
        self.previousCounter = previousCounter
        self.ciphertext = ciphertext
        serialized = bytes
    }

    /// Builds and MACs a message (fields in ascending order, counters written even when 0).
    init(
        ratchetKey: [UInt8],
        counter: UInt32,
        previousCounter: UInt32,
        ciphertext: [UInt8],
        macKey: [UInt8],
        senderIdentityKey: [UInt8],
        receiverIdentityKey: [UInt8]
    ) {
        var writer = ProtobufWriter(prefix: [SignalKeys.versionByte])
        writer.publicKey(1, ratchetKey)
        writer.uint32(2, counter)
        writer.uint32(3, previousCounter)
        writer.bytes(4, ciphertext)
        let body = writer.bytes
        let mac = Self.mac(over: body, macKey: macKey, senderIdentityKey: senderIdentityKey, receiverIdentityKey: receiverIdentityKey)
        self.ratchetKey = ratchetKey
        self.counter = counter
        self.previousCounter = previousCounter
        self.ciphertext = ciphertext
        serialized = body + mac
    }

    /// Whether the received MAC matches, compared in constant time.
    func hasValidMAC(macKey: [UInt8], senderIdentityKey: [UInt8], receiverIdentityKey: [UInt8]) -> Bool {
        let body = serialized[0..<(serialized.count - Self.macLength)]
        let expected = Self.mac(over: body, macKey: macKey, senderIdentityKey: senderIdentityKey, receiverIdentityKey: receiverIdentityKey)
        return SignalKeys.constantTimeEqual(expected, serialized.suffix(Self.macLength))
    }

    private static func mac(
        over body: some Collection<UInt8>,
        macKey: [UInt8],
        senderIdentityKey: [UInt8],
        receiverIdentityKey: [UInt8]
    ) -> [UInt8] {
        var hmac = HMACSHA256(key: macKey)
        hmac.update([SignalKeys.djbType] + senderIdentityKey)
        hmac.update([SignalKeys.djbType] + receiverIdentityKey)
        hmac.update(Array(body))
        return Array(hmac.finalize().prefix(macLength))
    }
}
