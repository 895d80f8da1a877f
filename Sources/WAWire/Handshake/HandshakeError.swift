/// Why a handshake frame was refused before any cryptography ran, or a step came out of order.
///
/// Certificate, Noise and client payload failures keep their own types (`CertificateChainError`,
/// `NoiseError`, `ClientPayloadError`) and pass through the handshake drivers unchanged.
public struct HandshakeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code, safe to log and to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case outOfOrder = "out_of_order"
            case tooLarge = "too_large"
            case malformed = "malformed"
            case unexpectedMessage = "unexpected_message"
            case missingEphemeral = "missing_ephemeral"
            case missingStatic = "missing_static"
            case missingPayload = "missing_payload"
            case ephemeralLength = "ephemeral_length"
            case staticLength = "static_length"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A step was called twice, before the previous one, or after a failure.
        public static let outOfOrder = Code(.outOfOrder)
        /// The frame body is larger than `HandshakeFrame.maxBodySize`.
        public static let tooLarge = Code(.tooLarge)
        /// The frame body is not a HandshakeMessage protobuf.
        public static let malformed = Code(.malformed)
        /// The HandshakeMessage lacks the part expected at this step (e.g. no serverHello).
        public static let unexpectedMessage = Code(.unexpectedMessage)
        /// No ephemeral key.
        public static let missingEphemeral = Code(.missingEphemeral)
        /// No encrypted static key.
        public static let missingStatic = Code(.missingStatic)
        /// No encrypted payload.
        public static let missingPayload = Code(.missingPayload)
        /// The ephemeral key is not 32 bytes.
        public static let ephemeralLength = Code(.ephemeralLength)
        /// The encrypted static key is not 48 bytes (32 + the AES-GCM tag).
        public static let staticLength = Code(.staticLength)

        public var description: String { base.rawValue }
    }

    public let code: Code

    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "HandshakeError(\(code))" }
}
