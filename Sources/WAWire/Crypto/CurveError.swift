/// Why a Curve25519 key, agreement or signature operation was refused; never carries key bytes.
public struct CurveError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code, safe to log and to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidKeyLength = "invalid_key_length"
            case invalidRandomnessLength = "invalid_randomness_length"
            case invalidPublicKey = "invalid_public_key"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A private or public key was not 32 bytes.
        public static let invalidKeyLength = Code(.invalidKeyLength)
        /// Signing randomness was not 64 bytes.
        public static let invalidRandomnessLength = Code(.invalidRandomnessLength)
        /// The peer's public key gives an all-zero shared secret (a low-order point) or was refused.
        public static let invalidPublicKey = Code(.invalidPublicKey)

        public var description: String { base.rawValue }
    }

    public let code: Code

    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "CurveError(\(code))" }
}
