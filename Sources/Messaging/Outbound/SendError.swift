/// Why a message could not be encrypted for sending. `description` names the code only.
public struct SendError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code: the outbox stores it as the message's failure reason.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case noDevices = "no_devices"
            case encryptionFailed = "encryption_failed"
            case noSession = "no_session"
            case invalidMessage = "invalid_message"
            case groupNotFound = "group_not_found"
            case notGroupMember = "not_group_member"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The recipient's device list is empty: the number is not on WhatsApp.
        public static let noDevices = Code(.noDevices)
        /// Not one of the recipient's devices could be encrypted for (no session and no usable bundle).
        public static let encryptionFailed = Code(.encryptionFailed)
        /// A resend found no session and was given no bundle: fetch one first.
        public static let noSession = Code(.noSession)
        /// The stored `Message` does not serialize or parse.
        public static let invalidMessage = Code(.invalidMessage)
        /// The group-info query answered 404: there is no such group.
        public static let groupNotFound = Code(.groupNotFound)
        /// The group-info query answered 403: the account is not (or no longer) in the group.
        public static let notGroupMember = Code(.notGroupMember)

        public var description: String { base.rawValue }
    }

    public let code: Code

    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "SendError(\(code))" }
}
