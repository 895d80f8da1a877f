/// Why a received webhook did not verify; says nothing about the secret or the expected value.
public struct WebhookVerificationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case missingHeaders = "missing_headers"
            case invalidTimestamp = "invalid_timestamp"
            case timestampTooOld = "timestamp_too_old"
            case timestampTooNew = "timestamp_too_new"
            case noMatchingSignature = "no_matching_signature"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// webhook-id, webhook-timestamp or webhook-signature is absent or empty.
        public static let missingHeaders = Code(.missingHeaders)
        /// webhook-timestamp is not whole Unix seconds in decimal.
        public static let invalidTimestamp = Code(.invalidTimestamp)
        /// Older than the tolerance: possibly a replay.
        public static let timestampTooOld = Code(.timestampTooOld)
        /// Further in the future than the tolerance.
        public static let timestampTooNew = Code(.timestampTooNew)
        /// No `v1` signature matches any secret: wrong secret, or altered id, time or body.
        public static let noMatchingSignature = Code(.noMatchingSignature)

        public var description: String { base.rawValue }
    }

    public var code: Code

    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "WebhookVerificationError(\(code))" }
}
