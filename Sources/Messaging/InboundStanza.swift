import WAWire

/// A stanza the receive path was given, read as far as its kind allows.
public enum InboundStanza: Sendable {
    case message(IncomingMessage)
    case receipt(IncomingReceipt)
    case notification(IncomingNotification)
    /// It could not be read (or is of a kind the path does not read): answered from its envelope alone.
    case unreadable(StanzaEnvelope, StanzaError)

    /// Reads `node` by its tag; our account decides which stanzas are about our own messages.
    public init(_ node: Node, own: OwnAccount) {
        do throws(StanzaError) {
            switch node.tag {
            case "message": self = .message(try IncomingMessage(node, own: own))
            case "receipt": self = .receipt(try IncomingReceipt(node, own: own))
            case "notification": self = .notification(try IncomingNotification(node))
            default: throw StanzaError(.unexpectedTag, at: node.tag)
            }
        } catch {
            self = .unreadable(StanzaEnvelope(node), error)
        }
    }
}
