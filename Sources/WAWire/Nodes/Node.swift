/// One stanza of WhatsApp's binary XML: a tag, attributes in the order written, and content.
///
/// Build stanzas with literals; a JID-typed attribute is spelled out with `.jid(…)` (or `.server`):
/// ```
/// Node("iq", ["id": .string(id), "xmlns": "w:p", "type": "get", "to": .server])
/// Node("iq", ["to": .server, "id": "\(id)", "type": "result"], [Node("pair-device-sign", [...])])
/// Node("ref", bytes: ref)
/// ```
public struct Node: Hashable, Sendable {
    public var tag: String
    public var attributes: Attributes
    public var content: NodeContent

    public init(_ tag: String, _ attributes: Attributes = [:], content: NodeContent = .none) {
        self.tag = tag
        self.attributes = attributes
        self.content = content
    }

    public init(_ tag: String, _ attributes: Attributes, _ children: [Node]) {
        self.init(tag, attributes, content: .nodes(children))
    }

    public init(_ tag: String, _ children: [Node]) {
        self.init(tag, [:], content: .nodes(children))
    }

    public init(_ tag: String, _ attributes: Attributes = [:], bytes: [UInt8]) {
        self.init(tag, attributes, content: .bytes(bytes))
    }

    /// The value of `key` as text (a JID-typed value rendered), or nil when absent.
    public func attribute(_ key: String) -> String? {
        attributes[key]?.description
    }

    /// The value of `key` when it was written as a JID (whatsmeow's rule: a string that looks like one is not).
    public func jidAttribute(_ key: String) -> JID? {
        guard case .jid(let jid) = attributes[key] else {
            return nil
        }
        return jid
    }

    /// The child nodes; empty when the content is not a list.
    public var children: [Node] {
        guard case .nodes(let children) = content else {
            return []
        }
        return children
    }

    /// The first child with this tag.
    public func child(_ tag: String) -> Node? {
        children.first { $0.tag == tag }
    }

    public func children(named tag: String) -> [Node] {
        children.filter { $0.tag == tag }
    }

    /// The content when it is binary (BINARY_8/20/32 on the wire).
    public var bytes: [UInt8]? {
        guard case .bytes(let bytes) = content else {
            return nil
        }
        return bytes
    }

    /// The content when it is a string form (token, packed or, in content written by us, raw text).
    public var text: String? {
        guard case .string(let text) = content else {
            return nil
        }
        return text
    }
}

/// What a node holds after its attributes; the case records the form the decoder saw.
public enum NodeContent: Hashable, Sendable {
    /// No content (the list size was odd, or the content was LIST_EMPTY).
    case none
    case nodes([Node])
    /// Binary content: decoded BINARY_8/20/32; written with a byte length.
    case bytes([UInt8])
    /// A string form: decoded from a token or packed form; written as a token, packed or raw UTF-8.
    case string(String)
    /// A JID form (JID_PAIR, AD_JID, FB_JID, INTEROP_JID).
    case jid(JID)
}

/// An attribute value: text, or a JID that the encoder writes in one of the binary JID forms.
public enum AttributeValue: Hashable, Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    case string(String)
    case jid(JID)

    /// The JID `s.whatsapp.net`, the `to` of most IQs.
    public static let server = AttributeValue.jid(.serverJID)

    public init(stringLiteral value: String) {
        self = .string(value)
    }

    public init(stringInterpolation: DefaultStringInterpolation) {
        self = .string(String(stringInterpolation: stringInterpolation))
    }

    public var description: String {
        switch self {
        case .string(let text): text
        case .jid(let jid): jid.description
        }
    }
}

extension Node {
    /// One attribute of a node.
    public struct Attribute: Hashable, Sendable {
        public var key: String
        public var value: AttributeValue

        public init(key: String, value: AttributeValue) {
            self.key = key
            self.value = value
        }
    }

    /// A node's attributes in the order they were written or decoded.
    ///
    /// A repeated key (only possible in decoded input) is kept; lookups see the last one, as whatsmeow's
    /// map would.
    public struct Attributes: Hashable, Sendable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
        private var storage: [Attribute]

        public init() {
            storage = []
        }

        public init(_ attributes: [Attribute]) {
            storage = attributes
        }

        public init(dictionaryLiteral elements: (String, AttributeValue)...) {
            storage = elements.map { Attribute(key: $0.0, value: $0.1) }
        }

        public var startIndex: Int {
            storage.startIndex
        }

        public var endIndex: Int {
            storage.endIndex
        }

        public subscript(position: Int) -> Attribute {
            storage[position]
        }

        /// Reads the value of `key`; writing replaces it in place, appends a new key, and nil removes it.
        public subscript(key: String) -> AttributeValue? {
            get {
                storage.last { $0.key == key }?.value
            }
            set {
                guard let newValue else {
                    storage.removeAll { $0.key == key }
                    return
                }
                if let index = storage.lastIndex(where: { $0.key == key }) {
                    storage[index].value = newValue
                } else {
                    storage.append(Attribute(key: key, value: newValue))
                }
            }
        }

        mutating func reserveCapacity(_ count: Int) {
            storage.reserveCapacity(count)
        }

        mutating func append(_ attribute: Attribute) {
            storage.append(attribute)
        }
    }
}
