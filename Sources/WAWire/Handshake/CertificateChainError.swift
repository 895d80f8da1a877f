/// Why a server certificate chain was refused: one code per check, so an operator sees which failed.
public struct CertificateChainError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code, safe to log and to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case tooLarge = "too_large"
            case malformed = "malformed"
            case missingIntermediate = "missing_intermediate"
            case missingLeaf = "missing_leaf"
            case intermediateSignatureLength = "intermediate_signature_length"
            case leafSignatureLength = "leaf_signature_length"
            case intermediateSignatureInvalid = "intermediate_signature_invalid"
            case malformedIntermediateDetails = "malformed_intermediate_details"
            case intermediateNotIssuedByRoot = "intermediate_not_issued_by_root"
            case intermediateKeyLength = "intermediate_key_length"
            case leafSignatureInvalid = "leaf_signature_invalid"
            case intermediateNotYetValid = "intermediate_not_yet_valid"
            case intermediateExpired = "intermediate_expired"
            case malformedLeafDetails = "malformed_leaf_details"
            case leafIssuerMismatch = "leaf_issuer_mismatch"
            case leafKeyMismatch = "leaf_key_mismatch"
            case leafNotYetValid = "leaf_not_yet_valid"
            case leafExpired = "leaf_expired"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The chain is larger than `CertificateChain.maxSerializedSize`.
        public static let tooLarge = Code(.tooLarge)
        /// The bytes are not a CertChain protobuf.
        public static let malformed = Code(.malformed)
        /// The intermediate certificate, its details or its signature is absent.
        public static let missingIntermediate = Code(.missingIntermediate)
        /// The leaf certificate, its details or its signature is absent.
        public static let missingLeaf = Code(.missingLeaf)
        /// The intermediate signature is not 64 bytes.
        public static let intermediateSignatureLength = Code(.intermediateSignatureLength)
        /// The leaf signature is not 64 bytes.
        public static let leafSignatureLength = Code(.leafSignatureLength)
        /// The trusted root did not sign the intermediate details.
        public static let intermediateSignatureInvalid = Code(.intermediateSignatureInvalid)
        /// The intermediate details are not a Details protobuf.
        public static let malformedIntermediateDetails = Code(.malformedIntermediateDetails)
        /// The intermediate's issuer serial is not the root's (0).
        public static let intermediateNotIssuedByRoot = Code(.intermediateNotIssuedByRoot)
        /// The intermediate key is not 32 bytes.
        public static let intermediateKeyLength = Code(.intermediateKeyLength)
        /// The intermediate key did not sign the leaf details.
        public static let leafSignatureInvalid = Code(.leafSignatureInvalid)
        /// `now` is before the intermediate's notBefore.
        public static let intermediateNotYetValid = Code(.intermediateNotYetValid)
        /// `now` is after the intermediate's notAfter.
        public static let intermediateExpired = Code(.intermediateExpired)
        /// The leaf details are not a Details protobuf.
        public static let malformedLeafDetails = Code(.malformedLeafDetails)
        /// The leaf's issuer serial is not the intermediate's serial.
        public static let leafIssuerMismatch = Code(.leafIssuerMismatch)
        /// The leaf does not certify the Noise static key the server used.
        public static let leafKeyMismatch = Code(.leafKeyMismatch)
        /// `now` is before the leaf's notBefore.
        public static let leafNotYetValid = Code(.leafNotYetValid)
        /// `now` is after the leaf's notAfter.
        public static let leafExpired = Code(.leafExpired)

        public var description: String { base.rawValue }
    }

    public let code: Code

    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "CertificateChainError(\(code))" }
}
