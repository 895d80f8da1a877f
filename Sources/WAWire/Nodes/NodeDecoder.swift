/// Reads binary nodes from untrusted bytes (whatsmeow's binary/decoder.go, with limits).
///
/// Every malformed input is a `NodeError`; declared sizes are checked against the remaining input
/// before anything is allocated for them, and depth, node count and inflated size are capped.
public struct NodeDecoder: Sendable {
    /// Caps for one frame; the defaults are far above anything WhatsApp sends.
    public struct Limits: Hashable, Sendable {
        /// Nesting of nodes (the root is depth 1); real stanzas stay under 10.
        public var maxDepth: Int
        /// Nodes in one stanza; an upload of 812 prekeys has about 2,500.
        public var maxNodes: Int
        /// Bytes a compressed frame may inflate to.
        public var maxInflatedSize: Int

        public init(maxDepth: Int = 64, maxNodes: Int = 100_000, maxInflatedSize: Int = FramePayload.defaultMaxInflatedSize) {
            self.maxDepth = maxDepth
            self.maxNodes = maxNodes
            self.maxInflatedSize = maxInflatedSize
        }
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Decodes the plaintext of a transport frame: flags byte, then the node (inflated when flagged).
    public func decode(frame: [UInt8]) throws(NodeError) -> Node {
        try decode(FramePayload.nodeSlice(of: frame, maxInflatedSize: limits.maxInflatedSize))
    }

    /// Decodes node bytes without a flags byte in front; nothing may follow the root node.
    public func decode(nodeBytes: [UInt8]) throws(NodeError) -> Node {
        try decode(nodeBytes[...])
    }

    private func decode(_ bytes: ArraySlice<UInt8>) throws(NodeError) -> Node {
        var reader = Reader(input: bytes, limits: limits)
        let node = try reader.readNode(depth: 1)
        guard reader.remaining == 0 else {
            throw reader.error(.trailingBytes)
        }
        return node
    }
}

private struct Reader {
    let input: ArraySlice<UInt8>
    let limits: NodeDecoder.Limits
    var position: Int
    var nodeCount = 0

    init(input: ArraySlice<UInt8>, limits: NodeDecoder.Limits) {
        self.input = input
        self.limits = limits
        self.position = input.startIndex
    }

    var remaining: Int {
        input.endIndex - position
    }

    func error(_ code: NodeError.Code) -> NodeError {
        NodeError(code, offset: position - input.startIndex)
    }

    mutating func readByte() throws(NodeError) -> UInt8 {
        guard position < input.endIndex else {
            throw error(.truncated)
        }
        defer { position += 1 }
        return input[position]
    }

    mutating func readBigEndian(byteCount: Int) throws(NodeError) -> Int {
        guard byteCount <= remaining else {
            throw error(.truncated)
        }
        var value = 0
        for _ in 0..<byteCount {
            value = value << 8 | Int(input[position])
            position += 1
        }
        return value
    }

    mutating func readRaw(count: Int) throws(NodeError) -> ArraySlice<UInt8> {
        guard count <= remaining else {
            throw error(.truncated)
        }
        defer { position += count }
        return input[position..<position + count]
    }

    mutating func readNode(depth: Int) throws(NodeError) -> Node {
        guard depth <= limits.maxDepth else {
            throw error(.tooDeep)
        }
        nodeCount += 1
        guard nodeCount <= limits.maxNodes else {
            throw error(.tooManyNodes)
        }
        let size = try readListSize(readByte())
        guard size > 0 else {
            throw error(.emptyNode)
        }
        guard let tag = try readText(orThrow: .invalidTag), !tag.isEmpty else {
            throw error(.invalidTag)
        }

        let attributeCount = (size - 1) / 2
        // A key and a value take at least a byte each.
        guard attributeCount <= remaining / 2 else {
            throw error(.listTooLarge)
        }
        var attributes = Node.Attributes()
        attributes.reserveCapacity(attributeCount)
        for _ in 0..<attributeCount {
            guard let key = try readText(orThrow: .invalidAttribute) else {
                throw error(.invalidAttribute)
            }
            if let value = try readAttributeValue() {
                attributes.append(Node.Attribute(key: key, value: value))
            }
        }

        let content = size % 2 == 0 ? try readContent(depth: depth) : .none
        return Node(tag, attributes, content: content)
    }

    mutating func readListSize(_ tag: UInt8) throws(NodeError) -> Int {
        switch tag {
        case Tag.listEmpty: 0
        case Tag.list8: Int(try readByte())
        case Tag.list16: try readBigEndian(byteCount: 2)
        default: throw error(.invalidListTag)
        }
    }

    mutating func readContent(depth: Int) throws(NodeError) -> NodeContent {
        let tag = try readByte()
        switch tag {
        case Tag.listEmpty:
            return .none
        case Tag.list8, Tag.list16:
            let count = try readListSize(tag)
            // The smallest node, F8 01 <token>, takes three bytes.
            guard count <= remaining / 3 else {
                throw error(.listTooLarge)
            }
            var children: [Node] = []
            children.reserveCapacity(count)
            for _ in 0..<count {
                children.append(try readNode(depth: depth + 1))
            }
            return .nodes(children)
        case Tag.binary8, Tag.binary20, Tag.binary32:
            return .bytes(Array(try readRaw(count: readBinaryLength(tag))))
        case Tag.jidPair, Tag.adJID, Tag.fbJID, Tag.interopJID:
            return .jid(try readJID(tag))
        default:
            guard let text = try readString(tag) else {
                throw error(.invalidToken)
            }
            return .string(text)
        }
    }

    /// nil for LIST_EMPTY, which whatsmeow stores as a nil value: the same as an absent attribute.
    mutating func readAttributeValue() throws(NodeError) -> AttributeValue? {
        let tag = try readByte()
        switch tag {
        case Tag.listEmpty:
            return nil
        case Tag.list8, Tag.list16:
            throw error(.invalidAttribute)
        case Tag.jidPair, Tag.adJID, Tag.fbJID, Tag.interopJID:
            return .jid(try readJID(tag))
        default:
            guard let text = try readString(tag) else {
                throw error(.invalidToken)
            }
            return .string(text)
        }
    }

    /// A value that must be a string form (tags, keys, JID parts); nil for LIST_EMPTY.
    mutating func readText(orThrow code: NodeError.Code) throws(NodeError) -> String? {
        let tag = try readByte()
        if tag == Tag.listEmpty {
            return nil
        }
        guard let text = try readString(tag) else {
            throw error((0xF0...0xF4).contains(tag) ? .invalidToken : code)
        }
        return text
    }

    /// The string forms (binary read as UTF-8 text, invalid sequences repaired); nil for any other tag.
    mutating func readString(_ tag: UInt8) throws(NodeError) -> String? {
        switch tag {
        case 0x01...0xEB:
            return NodeTokens.singleByte[Int(tag)]
        case 0xEC...0xEF:
            let index = try readByte()
            return NodeTokens.doubleByte[Int(tag - NodeTokens.dictionary0)][Int(index)]
        case Tag.nibble8, Tag.hex8:
            return try readPacked(tag)
        case Tag.binary8, Tag.binary20, Tag.binary32:
            return String(decoding: try readRaw(count: readBinaryLength(tag)), as: UTF8.self)
        default:
            return nil
        }
    }

    mutating func readBinaryLength(_ tag: UInt8) throws(NodeError) -> Int {
        switch tag {
        case Tag.binary8: return Int(try readByte())
        case Tag.binary20: return try readBigEndian(byteCount: 3) & 0xF_FFFF
        default: return try readBigEndian(byteCount: 4)
        }
    }

    mutating func readPacked(_ tag: UInt8) throws(NodeError) -> String {
        let header = try readByte()
        let packed = try readRaw(count: Int(header & 0x7F))
        let odd = header & 0x80 != 0
        guard !(odd && packed.isEmpty) else {
            throw error(.invalidPacked)
        }
        var characters: [UInt8] = []
        characters.reserveCapacity(packed.count * 2)
        for byte in packed {
            characters.append(try packedCharacter(byte >> 4, tag: tag))
            characters.append(try packedCharacter(byte & 0x0F, tag: tag))
        }
        if odd {
            characters.removeLast()
        }
        return String(decoding: characters, as: UTF8.self)
    }

    func packedCharacter(_ code: UInt8, tag: UInt8) throws(NodeError) -> UInt8 {
        if tag == Tag.hex8 {
            return Packed.hexCharacters[Int(code)]
        }
        guard let character = Packed.nibbleCharacters[Int(code)] else {
            throw error(.invalidPacked)
        }
        return character
    }

    mutating func readJID(_ tag: UInt8) throws(NodeError) -> JID {
        switch tag {
        case Tag.jidPair:
            let user = try readText(orThrow: .invalidJID) ?? ""
            guard let server = try readText(orThrow: .invalidJID) else {
                throw error(.invalidJID)
            }
            return JID(user: user, server: JID.Server(rawValue: server))
        case Tag.adJID:
            let domainType = try readByte()
            let device = try readByte()
            return JID(user: try readJIDUser(), domainType: domainType, device: device)
        case Tag.fbJID:
            let user = try readJIDUser()
            let device = UInt16(try readBigEndian(byteCount: 2))
            try expectServer(.messenger)
            return JID(user: user, device: device, server: .messenger)
        default:
            let user = try readJIDUser()
            let device = UInt16(try readBigEndian(byteCount: 2))
            let integrator = UInt16(try readBigEndian(byteCount: 2))
            try expectServer(.interop)
            return JID(user: user, device: device, server: .interop, integrator: integrator)
        }
    }

    mutating func readJIDUser() throws(NodeError) -> String {
        guard let user = try readText(orThrow: .invalidJID) else {
            throw error(.invalidJID)
        }
        return user
    }

    mutating func expectServer(_ server: JID.Server) throws(NodeError) {
        guard try readText(orThrow: .invalidJID) == server.rawValue else {
            throw error(.invalidJID)
        }
    }
}
