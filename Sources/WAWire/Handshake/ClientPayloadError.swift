/// Why a ClientPayload could not be built (client) or was refused (server).
public struct ClientPayloadError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code, safe to log and to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case tooLarge = "too_large"
            case malformed = "malformed"
            case missingUserAgent = "missing_user_agent"
            case neitherLoginNorRegistration = "neither_login_nor_registration"
            case bothLoginAndRegistration = "both_login_and_registration"
            case missingDevice = "missing_device"
            case registrationIDLength = "registration_id_length"
            case unsupportedKeyType = "unsupported_key_type"
            case identityKeyLength = "identity_key_length"
            case signedPreKeyIDOutOfRange = "signed_pre_key_id_out_of_range"
            case signedPreKeyLength = "signed_pre_key_length"
            case signatureLength = "signature_length"
            case signatureInvalid = "signature_invalid"
            case buildHashLength = "build_hash_length"
            case malformedDeviceProps = "malformed_device_props"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The payload is larger than `ParsedClientPayload.maxSerializedSize`.
        public static let tooLarge = Code(.tooLarge)
        /// The bytes are not a ClientPayload protobuf.
        public static let malformed = Code(.malformed)
        /// No user agent, so the client's platform and version are unknown.
        public static let missingUserAgent = Code(.missingUserAgent)
        /// Neither a username (login) nor pairing data (registration).
        public static let neitherLoginNorRegistration = Code(.neitherLoginNorRegistration)
        /// Both a username and pairing data.
        public static let bothLoginAndRegistration = Code(.bothLoginAndRegistration)
        /// A login without its device number.
        public static let missingDevice = Code(.missingDevice)
        /// The registration id is not 4 bytes.
        public static let registrationIDLength = Code(.registrationIDLength)
        /// The key type is not the single byte 0x05.
        public static let unsupportedKeyType = Code(.unsupportedKeyType)
        /// The identity key is not 32 bytes.
        public static let identityKeyLength = Code(.identityKeyLength)
        /// The signed pre-key id does not fit in, or is not sent as, 3 bytes.
        public static let signedPreKeyIDOutOfRange = Code(.signedPreKeyIDOutOfRange)
        /// The signed pre-key is not 32 bytes.
        public static let signedPreKeyLength = Code(.signedPreKeyLength)
        /// The signed pre-key signature is not 64 bytes.
        public static let signatureLength = Code(.signatureLength)
        /// The identity key did not sign the signed pre-key.
        public static let signatureInvalid = Code(.signatureInvalid)
        /// The build hash is not 16 bytes.
        public static let buildHashLength = Code(.buildHashLength)
        /// The device properties are not a DeviceProps protobuf.
        public static let malformedDeviceProps = Code(.malformedDeviceProps)

        public var description: String { base.rawValue }
    }

    public let code: Code

    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "ClientPayloadError(\(code))" }
}
