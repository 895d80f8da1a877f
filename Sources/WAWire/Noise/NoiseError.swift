/// Why a Noise handshake or transport step failed; never carries key material.
public struct NoiseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code, safe to log and to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case outOfOrder = "out_of_order"
            case malformedMessage = "malformed_message"
            case decryptionFailed = "decryption_failed"
            case invalidRemoteKey = "invalid_remote_key"
            case counterExhausted = "counter_exhausted"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A step was called in the wrong role or order, or after an earlier failure.
        public static let outOfOrder = Code(.outOfOrder)
        /// A message part had the wrong length.
        public static let malformedMessage = Code(.malformedMessage)
        /// AES-GCM authentication failed: wrong key, tampered bytes or a replayed/reordered frame.
        public static let decryptionFailed = Code(.decryptionFailed)
        /// A remote key gives an all-zero X25519 result (a low-order point).
        public static let invalidRemoteKey = Code(.invalidRemoteKey)
        /// The 32-bit nonce counter is used up; the connection must be replaced.
        public static let counterExhausted = Code(.counterExhausted)

        public var description: String { base.rawValue }
    }

    public let code: Code

    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "NoiseError(\(code))" }
}
