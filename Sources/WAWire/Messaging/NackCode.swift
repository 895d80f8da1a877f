/// The `error` of an `<ack>` that refuses a stanza (whatsmeow receipt.go constants, messaging.md §3.2).
///
/// An ack with an error keeps the stanza pending on the server (messaging.md §3.4), so only stanzas that
/// will never be handled get one.
public struct NackCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int

    public init(rawValue: Int) {
        self.rawValue = rawValue
    }

    /// The stanza could not be parsed (a missing id, a bad JID).
    public static let parsingError = NackCode(rawValue: 487)
    /// A `<message>` with no `<enc>` (and nothing else to show).
    public static let unrecognizedStanza = NackCode(rawValue: 488)
    /// The decrypted plaintext is not a `Message` protobuf.
    public static let invalidProtobuf = NackCode(rawValue: 491)
    /// An `msmsg` (bot / message-secret encrypted) that cannot be read.
    public static let missingMessageSecret = NackCode(rawValue: 495)

    public var description: String {
        String(rawValue)
    }
}
