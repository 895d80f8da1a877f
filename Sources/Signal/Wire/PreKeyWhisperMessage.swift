/// A `pkmsg`: libsignal's PreKeySignalMessage, `0x33 ‖ protobuf`, with no MAC or signature of its own.
///
/// Protobuf fields: 1 preKeyId (absent without a one-time prekey), 2 baseKey (33), 3 identityKey (33),
/// 4 message (a complete `WhisperMessage`), 5 registrationId, 6 signedPreKeyId.
public struct PreKeyWhisperMessage: Sendable, Equatable {
    /// The sender's registration id (0 when absent, as libsignal reads it).
    public let registrationID: UInt32
    /// Our one-time prekey the sender used, if any; absent means a 3-DH X3DH.
    public let oneTimePreKeyID: UInt32?
    public let signedPreKeyID: UInt32
    /// The sender's X3DH base key (32 bytes); it identifies the session within a record.
    public let baseKey: [UInt8]
    /// The sender's identity key (32 bytes): compare it with the one on record (trust on first use).
    public let identityKey: [UInt8]
    public let message: WhisperMessage
    public let serialized: [UInt8]

    /// Parses untrusted bytes; fails with `invalid_message`, `invalid_key` or `unsupported_version`.
    public init(parsing bytes: [UInt8]) throws(SignalError) {
        try SignalKeys.checkVersion(bytes)
        var reader = ProtobufReader(bytes[1...])
        var registrationID: UInt32 = 0
        var oneTimePreKeyID: UInt32?
        var signedPreKeyID: UInt32?
        var baseKey: [UInt8]?
        var identityKey: [UInt8]?
        var message: WhisperMessage?
        while let field = try reader.next() {
            switch field.number {
            case 1: oneTimePreKeyID = try field.value.uint32()
            case 2: baseKey = try field.value.publicKey()
            case 3: identityKey = try field.value.publicKey()
            case 4: message = try WhisperMessage(parsing: Array(field.value.bytes()))
            case 5: registrationID = try field.value.uint32()
            case 6: signedPreKeyID = try field.value.uint32()
            default: continue
            }
        }
        guard let signedPreKeyID, let baseKey, let identityKey, let message else {
            throw SignalError(.invalidMessage)
        }
        self.registrationID = registrationID
        self.oneTimePreKeyID = oneTimePreKeyID
        self.signedPreKeyID = signedPreKeyID
        self.baseKey = baseKey
        self.identityKey = identityKey
        self.message = message
        serialized = bytes
    }

    init(
        registrationID: UInt32,
        oneTimePreKeyID: UInt32?,
        signedPreKeyID: UInt32,
        baseKey: [UInt8],
        identityKey: [UInt8],
        message: WhisperMessage
    ) {
        var writer = ProtobufWriter(prefix: [SignalKeys.versionByte])
        if let oneTimePreKeyID {
            writer.uint32(1, oneTimePreKeyID)
        }
        writer.publicKey(2, baseKey)
        writer.publicKey(3, identityKey)
        writer.bytes(4, message.serialized)
        writer.uint32(5, registrationID)
        writer.uint32(6, signedPreKeyID)
        self.registrationID = registrationID
        self.oneTimePreKeyID = oneTimePreKeyID
        self.signedPreKeyID = signedPreKeyID
        self.baseKey = baseKey
        self.identityKey = identityKey
        self.message = message
        serialized = writer.bytes
    }
}
