/// The `type` of an `<enc>`: which Signal message its bytes are (messaging.md §2.2, §2.4).
public struct EncryptionType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// `pkmsg`: a PreKeyWhisperMessage, which may start a pairwise session.
    public static let preKeyMessage = EncryptionType(rawValue: "pkmsg")
    /// `msg`: a WhisperMessage on an existing pairwise session.
    public static let message = EncryptionType(rawValue: "msg")
    /// `skmsg`: a SenderKeyMessage, for groups and status.
    public static let senderKeyMessage = EncryptionType(rawValue: "skmsg")
    /// `msmsg`: bot / message-secret encryption, not decrypted here.
    public static let messageSecretMessage = EncryptionType(rawValue: "msmsg")

    /// `pkmsg` or `msg`: decrypted with the pairwise session of the sender's device.
    public var isPairwise: Bool {
        self == .preKeyMessage || self == .message
    }

    public var description: String {
        rawValue
    }
}
