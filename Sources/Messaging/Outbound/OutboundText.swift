import SwiftProtobuf
import WAWire

/// A text message as POST /messages queues it: a `Message` with `conversation`, stored serialized in
/// the outbox row so the drain and retry answers re-encrypt exactly the same message.
public enum OutboundText {
    /// WhatsApp's limit on a text message, in Unicode code points.
    public static let maximumLength = 65_536

    /// Whether `text` can be sent: 1 to `maximumLength` code points.
    public static func fits(_ text: String) -> Bool {
        (1...maximumLength).contains(text.unicodeScalars.count)
    }

    /// The serialized `Message{conversation = text}`.
    public static func serialized(_ text: String) -> [UInt8] {
        var message = WAMessage()
        message.conversation = text
        // A message holding only a string field always serializes.
        return (try? message.serializedBytes()) ?? []
    }
}
