import WAWire

/// A `skmsg`: `0x33 ‖ protobuf ‖ signature(64)`; the signature is the sender's signing key over
/// `0x33 ‖ protobuf`. Protobuf fields: 1 id, 2 iteration, 3 ciphertext.
public struct SenderKeyMessage: Sendable, Equatable {
    static let signatureLength = 64

    public let keyID: UInt32
    public let iteration: UInt32
    public let ciphertext: [UInt8]
    public let serialized: [UInt8]

    /// Parses untrusted bytes; fails with `invalid_message` or `unsupported_version`.
    public init(parsing bytes: [UInt8]) throws(SignalError) {
        try SignalKeys.checkVersion(bytes)
        guard bytes.count > 1 + Self.signatureLength else {
            throw SignalError(.invalidMessage)
        }
        var reader = ProtobufReader(bytes[1..<(bytes.count - Self.signatureLength)])
        var keyID: UInt32?
        var iteration: UInt32?
        var ciphertext: [UInt8]?
        while let field = try reader.next() {
            switch field.number {
            case 1: keyID = try field.value.uint32()
            case 2: iteration = try field.value.uint32()
            case 3: ciphertext = Array(try field.value.bytes())
            default: continue
            }
        }
        guard let keyID, let iteration, iteration < UInt32.max, let ciphertext,
              !ciphertext.isEmpty, ciphertext.count % 16 == 0
        else {
            throw SignalError(.invalidMessage)
        }
        self.keyID = keyID
        self.iteration = iteration
        self.ciphertext = ciphertext
        serialized = bytes
    }

    /// Builds and signs a message with the XEdDSA `randomness` (64 bytes).
    init(keyID: UInt32, iteration: UInt32, ciphertext: [UInt8], signingKey: [UInt8], randomness: [UInt8]) throws(SignalError) {
        var writer = ProtobufWriter(prefix: [SignalKeys.versionByte])
        writer.uint32(1, keyID)
        writer.uint32(2, iteration)
        writer.bytes(3, ciphertext)
        let signed = writer.bytes
        let signature: [UInt8]
        do {
            signature = try CurveSignature.sign(signed, privateKey: signingKey, randomness: randomness)
        } catch {
            throw SignalError(.invalidKey)
        }
        self.keyID = keyID
        self.iteration = iteration
        self.ciphertext = ciphertext
        serialized = signed + signature
    }

    func hasValidSignature(signingKey: [UInt8]) -> Bool {
        let split = serialized.count - Self.signatureLength
        return CurveSignature.isValid(Array(serialized[split...]), for: Array(serialized[..<split]), publicKey: signingKey)
    }
}
