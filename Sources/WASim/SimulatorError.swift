/// Why the simulator refused a request (a scan, a code, a fault, a file); `code` is stable and
/// `detail` is safe to show: it never holds key material.
public struct SimulatorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable reason, as the control API's problem documents spell it.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        // Phone
        public static let invalidQR = Code("invalid_qr")
        public static let unknownRef = Code("unknown_ref")
        public static let invalidPhoneNumber = Code("invalid_phone_number")
        public static let invalidCode = Code("invalid_code")
        public static let noPendingCode = Code("no_pending_code")
        public static let unknownPhone = Code("unknown_phone")
        public static let unknownDevice = Code("unknown_device")
        public static let pairingRefused = Code("pairing_refused")
        /// The number belongs to a contact and cannot be an account, or the reverse.
        public static let phoneInUse = Code("phone_in_use")

        // Messages
        public static let unknownContact = Code("unknown_contact")
        public static let unknownGroup = Code("unknown_group")
        public static let notAMember = Code("not_a_member")
        public static let invalidText = Code("invalid_text")
        public static let invalidGroup = Code("invalid_group")
        public static let encryptionFailed = Code("encryption_failed")

        // Faults
        public static let invalidRate = Code("invalid_rate")
        public static let invalidDelay = Code("invalid_delay")
        public static let invalidCount = Code("invalid_count")
        public static let deviceNotTargetable = Code("device_not_targetable")

        // Files
        public static let rootKeyFile = Code("root_key_file")
        public static let stateFile = Code("state_file")
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
