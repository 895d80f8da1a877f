/// A SenderKeyDistributionMessage: `0x33 ‖ protobuf{1 id, 2 iteration, 3 chainKey(32), 4 signingKey(33)}`.
///
/// It has no MAC or signature: it travels inside a pairwise `pkmsg`/`msg` (WhatsApp wraps it in
/// `Message.senderKeyDistributionMessage` with the group id).
public struct SenderKeyDistributionMessage: Sendable, Equatable, CustomStringConvertible {
    public let keyID: UInt32
    public let iteration: UInt32
    /// The chain key at `iteration`: a secret, never printed.
    public let chainKey: [UInt8]
    /// The sender's signing public key (32 bytes, without the type byte).
    public let signingKey: [UInt8]
    public let serialized: [UInt8]

    /// Parses untrusted bytes; fails with `invalid_message`, `invalid_key` or `unsupported_version`.
    public init(parsing bytes: [UInt8]) throws(SignalError) {
        try SignalKeys.checkVersion(bytes)
        var reader = ProtobufReader(bytes[1...])
        var keyID: UInt32?
        var iteration: UInt32?
        var chainKey: [UInt8]?
        var signingKey: [UInt8]?
        while let field = try reader.next() {
            switch field.number {
            case 1: keyID = try field.value.uint32()
            case 2: iteration = try field.value.uint32()
            case 3: chainKey = Array(try field.value.bytes())
            case 4: signingKey = try field.value.publicKey()
            default: continue
            }
        }
        guard let keyID, let iteration, iteration < UInt32.max, let chainKey, let signingKey else {
            throw SignalError(.invalidMessage)
        }
        guard chainKey.count == 32 else {
            throw SignalError(.invalidKey)
        }
        self.keyID = keyID
        self.iteration = iteration
        self.chainKey = chainKey
        self.signingKey = signingKey
        serialized = bytes
    }

    init(keyID: UInt32, iteration: UInt32, chainKey: [UInt8], signingKey: [UInt8]) {
        var writer = ProtobufWriter(prefix: [SignalKeys.versionByte])
        writer.uint32(1, keyID)
        writer.uint32(2, iteration)
        writer.bytes(3, chainKey)
        writer.publicKey(4, signingKey)
        self.keyID = keyID
        self.iteration = iteration
        self.chainKey = chainKey
        self.signingKey = signingKey
        serialized = writer.bytes
    }

    public var description: String { "SenderKeyDistributionMessage(keyID: \(keyID), iteration: \(iteration))" }
}
