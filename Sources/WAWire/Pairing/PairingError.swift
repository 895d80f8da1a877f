/// Why a pairing step (QR, ADV identity, link code) refused its input; `code` is stable, the text never holds key material.
public struct PairingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable reason, suitable for metrics labels and tests.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        // QR string
        public static let qrTooLong = Code("qr_too_long")
        public static let qrPrefixMismatch = Code("qr_prefix_mismatch")
        public static let qrFieldCount = Code("qr_field_count")
        public static let qrInvalidRef = Code("qr_invalid_ref")
        public static let qrInvalidBase64 = Code("qr_invalid_base64")
        public static let qrKeyLength = Code("qr_key_length")
        public static let qrUnknownPlatform = Code("qr_unknown_platform")
        public static let qrNoRefs = Code("qr_no_refs")

        // Key material handed in by the caller
        public static let keyLength = Code("key_length")

        // ADV device identity (pair-success and pair-device-sign)
        public static let advContainerTooLarge = Code("adv_container_too_large")
        public static let advMalformedContainer = Code("adv_malformed_container")
        public static let advHMACMismatch = Code("adv_hmac_mismatch")
        public static let advMalformedSignedIdentity = Code("adv_malformed_signed_identity")
        public static let advMalformedDeviceIdentity = Code("adv_malformed_device_identity")
        public static let advAccountSignatureMismatch = Code("adv_account_signature_mismatch")
        public static let advDeviceSignatureMismatch = Code("adv_device_signature_mismatch")
        public static let advReplyMismatch = Code("adv_reply_mismatch")
        public static let advEncodingFailed = Code("adv_encoding_failed")

        // Link code (phone-number pairing)
        public static let linkCodeFormat = Code("link_code_format")
        public static let linkCodeWrappedKeyLength = Code("link_code_wrapped_key_length")
        public static let linkCodeBundleLength = Code("link_code_bundle_length")
        public static let linkCodeBundleAuthentication = Code("link_code_bundle_authentication")
        public static let linkCodeIdentityMismatch = Code("link_code_identity_mismatch")
        public static let linkCodeKeyAgreement = Code("link_code_key_agreement")
        public static let linkCodeCrypto = Code("link_code_crypto")
    }

    public let code: Code

    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "PairingError(\(code))" }

    /// The `<error code text>` a companion answers pair-success with, as whatsmeow does; nil for errors outside that exchange.
    public var pairSuccessErrorReply: PairSuccessErrorReply? {
        switch code {
        case .advHMACMismatch: PairSuccessErrorReply(code: 401, text: "hmac-mismatch")
        case .advAccountSignatureMismatch: PairSuccessErrorReply(code: 401, text: "signature-mismatch")
        case .advContainerTooLarge, .advMalformedContainer, .advMalformedSignedIdentity,
             .advMalformedDeviceIdentity, .advEncodingFailed, .keyLength:
            PairSuccessErrorReply(code: 500, text: "internal-error")
        default: nil
        }
    }
}

/// The `code` and `text` attributes of the `<error>` child in a failed pair-success answer.
public struct PairSuccessErrorReply: Sendable, Hashable {
    public let code: Int
    public let text: String

    /// Any local failure the companion cannot blame on the phone (storage, a rejected pre-pair check).
    public static let internalError = PairSuccessErrorReply(code: 500, text: "internal-error")
}
