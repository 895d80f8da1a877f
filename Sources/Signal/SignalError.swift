/// Why a Signal operation was refused. `description` names the code only, never key material or
/// message bytes; `debugDescription` adds where it was thrown.
public struct SignalError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// A stable reason code, safe to log, to count in metrics and to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidMessage = "invalid_message"
            case invalidMAC = "invalid_mac"
            case invalidSignature = "invalid_signature"
            case invalidKey = "invalid_key"
            case duplicate = "duplicate"
            case noSession = "no_session"
            case noSenderKey = "no_sender_key"
            case unknownPreKey = "unknown_prekey"
            case unknownSignedPreKey = "unknown_signed_prekey"
            case tooFarAhead = "too_far_ahead"
            case unsupportedVersion = "unsupported_version"
            case corruptRecord = "corrupt_record"
            case invalidPadding = "invalid_padding"
            case counterExhausted = "counter_exhausted"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The bytes are not a well-formed message: bad protobuf, a missing field, a ciphertext that
        /// is not whole AES blocks, or a body whose PKCS#7 padding is wrong after a good MAC.
        public static let invalidMessage = Code(.invalidMessage)
        /// The message's MAC does not match: tampered, or not for any session state we hold.
        public static let invalidMAC = Code(.invalidMAC)
        /// A signed prekey or sender-key message signature does not verify.
        public static let invalidSignature = Code(.invalidSignature)
        /// A key is not a 33-byte `0x05` key (32 bytes in a bundle), or gives an all-zero agreement.
        public static let invalidKey = Code(.invalidKey)
        /// The message's key was already used (or never stored): a replayed copy. Not a failure to retry.
        public static let duplicate = Code(.duplicate)
        /// A `msg` arrived for an address without any session state.
        public static let noSession = Code(.noSession)
        /// A group message names a sender key we do not hold (or we have no key of our own to send with).
        public static let noSenderKey = Code(.noSenderKey)
        /// A `pkmsg` names a one-time prekey we do not have (already used or never issued).
        public static let unknownPreKey = Code(.unknownPreKey)
        /// A `pkmsg` names a signed prekey we do not have.
        public static let unknownSignedPreKey = Code(.unknownSignedPreKey)
        /// The message is more than 2,000 messages ahead of its chain.
        public static let tooFarAhead = Code(.tooFarAhead)
        /// A message or stored record carries a version this module does not speak.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// Stored record bytes do not decode (truncated, out of bounds or inconsistent).
        public static let corruptRecord = Code(.corruptRecord)
        /// A WhatsApp plaintext's trailing padding is empty or inconsistent.
        public static let invalidPadding = Code(.invalidPadding)
        /// A chain used every 32-bit counter; the session or sender key must be replaced.
        public static let counterExhausted = Code(.counterExhausted)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var file: String
    public var line: Int

    public init(_ code: Code, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.file = file
        self.line = line
    }

    public var description: String { "SignalError(\(code))" }

    public var debugDescription: String { "SignalError(\(code)) [\(file):\(line)]" }
}
