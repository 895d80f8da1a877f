import Foundation

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
        let nodeBytes = try FramePayload.nodeSlice(of: frame, maxInflatedSize: limits.maxInflatedSize)
        return try decode(nodeBytes.span)
    }

    /// Decodes a frame's plaintext as the transport returns it, reading the Data in place.
    public func decode(frame: Data) throws(NodeError) -> Node {
        guard let flags = frame.first else {
            throw NodeError(.emptyFrame)
        }
        if flags & FramePayload.compressedFlag != 0 {
            // Compressed frames are rare (the server's large stanzas); inflating costs far more than the copy.
            let inflated = try FramePayload.inflated(Array(frame.dropFirst())[...], maxSize: limits.maxInflatedSize)
            return try decode(inflated.span)
        }
        let nodeBytes = frame.dropFirst()
        return try decode(nodeBytes.span)
    }

    /// Decodes node bytes without a flags byte in front; nothing may follow the root node.
    public func decode(nodeBytes: [UInt8]) throws(NodeError) -> Node {
        try decode(nodeBytes.span)
    }

    private func decode(_ input: Span<UInt8>) throws(NodeError) -> Node {
        var reader = Reader(limits: limits)
        let node = try reader.readNode(input, depth: 1)
        guard reader.remaining(input) == 0 else {
            throw reader.error(.trailingBytes)
        }
        return node
    }
}

/// Reads one node tree from a span (of an array or of Data, so neither is copied first).
///
/// The span is passed to every read rather than stored, which would make the reader non-escapable.
/// Span indexing is bounds-checked in every build; each read also checks what remains first, so a
/// short input is a `NodeError`, never a trap.
private struct Reader {
    let limits: NodeDecoder.Limits
    var position = 0
    var nodeCount = 0

    init(limits: NodeDecoder.Limits) {
        self.limits = limits
    }

    func remaining(_ input: Span<UInt8>) -> Int {
        input.count - position
    }

    func error(_ code: NodeError.Code) -> NodeError {
        NodeError(code, offset: position)
    }

    mutating func readByte(_ input: Span<UInt8>) throws(NodeError) -> UInt8 {
        guard position < input.count else {
            throw error(.truncated)
        }
        defer { position += 1 }
        return input[position]
    }

    mutating func readBigEndian(_ input: Span<UInt8>, byteCount: Int) throws(NodeError) -> Int {
        guard byteCount <= remaining(input) else {
            throw error(.truncated)
        }
        var value = 0
        for _ in 0..<byteCount {
            value = value << 8 | Int(input[position])
            position += 1
        }
        return value
    }

    /// The range of the next `count` bytes, consumed.
    mutating func readRaw(_ input: Span<UInt8>, count: Int) throws(NodeError) -> Range<Int> {
        guard count >= 0, count <= remaining(input) else {
            throw error(.truncated)
        }
        defer { position += count }
        return position..<position + count
    }

    func bytes(_ input: Span<UInt8>, _ range: Range<Int>) -> [UInt8] {
        input.extracting(range).withUnsafeBufferPointer { Array($0) }
    }

    func text(_ input: Span<UInt8>, _ range: Range<Int>) -> String {
        input.extracting(range).withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
    }

    mutating func readNode(_ input: Span<UInt8>, depth: Int) throws(NodeError) -> Node {
        guard depth <= limits.maxDepth else {
            throw error(.tooDeep)
        }
        nodeCount += 1
        guard nodeCount <= limits.maxNodes else {
            throw error(.tooManyNodes)
        }
        let size = try readListSize(input, readByte(input))
        guard size > 0 else {
            throw error(.emptyNode)
        }
        guard let tag = try readText(input, orThrow: .invalidTag), !tag.isEmpty else {
            throw error(.invalidTag)
        }

        let attributeCount = (size - 1) / 2
        // A key and a value take at least a byte each.
        guard attributeCount <= remaining(input) / 2 else {
            throw error(.listTooLarge)
        }
        var attributes = Node.Attributes()
        attributes.reserveCapacity(attributeCount)
        for _ in 0..<attributeCount {
            guard let key = try readText(input, orThrow: .invalidAttribute) else {
                throw error(.invalidAttribute)
            }
            if let value = try readAttributeValue(input) {
                attributes.append(Node.Attribute(key: key, value: value))
            }
        }

        let content = size % 2 == 0 ? try readContent(input, depth: depth) : .none
        return Node(tag, attributes, content: content)
    }

    mutating func readListSize(_ input: Span<UInt8>, _ tag: UInt8) throws(NodeError) -> Int {
        switch tag {
        case Tag.listEmpty: 0
        case Tag.list8: Int(try readByte(input))
        case Tag.list16: try readBigEndian(input, byteCount: 2)
        default: throw error(.invalidListTag)
        }
    }

    mutating func readContent(_ input: Span<UInt8>, depth: Int) throws(NodeError) -> NodeContent {
        let tag = try readByte(input)
        switch tag {
        case Tag.listEmpty:
            return .none
        case Tag.list8, Tag.list16:
            let count = try readListSize(input, tag)
            // The smallest node, F8 01 <token>, takes three bytes.
            guard count <= remaining(input) / 3 else {
                throw error(.listTooLarge)
            }
            var children: [Node] = []
            children.reserveCapacity(count)
            for _ in 0..<count {
                children.append(try readNode(input, depth: depth + 1))
            }
            return .nodes(children)
        case Tag.binary8, Tag.binary20, Tag.binary32:
            return .bytes(bytes(input, try readRaw(input, count: readBinaryLength(input, tag))))
        case Tag.jidPair, Tag.adJID, Tag.fbJID, Tag.interopJID:
            return .jid(try readJID(input, tag))
        default:
            guard let text = try readString(input, tag) else {
                throw error(.invalidToken)
            }
            return .string(text)
        }
    }

    /// nil for LIST_EMPTY, which whatsmeow stores as a nil value: the same as an absent attribute.
    mutating func readAttributeValue(_ input: Span<UInt8>) throws(NodeError) -> AttributeValue? {
        let tag = try readByte(input)
        switch tag {
        case Tag.listEmpty:
            return nil
        case Tag.list8, Tag.list16:
            throw error(.invalidAttribute)
        case Tag.jidPair, Tag.adJID, Tag.fbJID, Tag.interopJID:
            return .jid(try readJID(input, tag))
        default:
            guard let text = try readString(input, tag) else {
                throw error(.invalidToken)
            }
            return .string(text)
        }
    }

    /// A value that must be a string form (tags, keys, JID parts); nil for LIST_EMPTY.
    mutating func readText(_ input: Span<UInt8>, orThrow code: NodeError.Code) throws(NodeError) -> String? {
        let tag = try readByte(input)
        if tag == Tag.listEmpty {
            return nil
        }
        guard let text = try readString(input, tag) else {
            throw error((0xF0...0xF4).contains(tag) ? .invalidToken : code)
        }
        return text
    }

    /// The string forms (binary read as UTF-8 text, invalid sequences repaired); nil for any other tag.
    mutating func readString(_ input: Span<UInt8>, _ tag: UInt8) throws(NodeError) -> String? {
        switch tag {
        case 0x01...0xEB:
            return NodeTokens.singleByte[Int(tag)]
        case 0xEC...0xEF:
            let index = try readByte(input)
            return NodeTokens.doubleByte[Int(tag - NodeTokens.dictionary0)][Int(index)]
        case Tag.nibble8, Tag.hex8:
            return try readPacked(input, tag)
        case Tag.binary8, Tag.binary20, Tag.binary32:
            return text(input, try readRaw(input, count: readBinaryLength(input, tag)))
        default:
            return nil
        }
    }

    mutating func readBinaryLength(_ input: Span<UInt8>, _ tag: UInt8) throws(NodeError) -> Int {
        switch tag {
        case Tag.binary8: return Int(try readByte(input))
        case Tag.binary20: return try readBigEndian(input, byteCount: 3) & 0xF_FFFF
        default: return try readBigEndian(input, byteCount: 4)
        }
    }

    mutating func readPacked(_ input: Span<UInt8>, _ tag: UInt8) throws(NodeError) -> String {
        let header = try readByte(input)
        let packed = try readRaw(input, count: Int(header & 0x7F))
        let odd = header & 0x80 != 0
        guard !(odd && packed.isEmpty) else {
            throw error(.invalidPacked)
        }
        var characters: [UInt8] = []
        characters.reserveCapacity(packed.count * 2)
        for index in packed {
            let byte = input[index]
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

    mutating func readJID(_ input: Span<UInt8>, _ tag: UInt8) throws(NodeError) -> JID {
        switch tag {
        case Tag.jidPair:
            let user = try readText(input, orThrow: .invalidJID) ?? ""
            guard let server = try readText(input, orThrow: .invalidJID) else {
                throw error(.invalidJID)
            }
            return JID(user: user, server: JID.Server(rawValue: server))
        case Tag.adJID:
            let domainType = try readByte(input)
            let device = try readByte(input)
            return JID(user: try readJIDUser(input), domainType: domainType, device: device)
        case Tag.fbJID:
            let user = try readJIDUser(input)
            let device = UInt16(try readBigEndian(input, byteCount: 2))
            try expectServer(input, .messenger)
            return JID(user: user, device: device, server: .messenger)
        default:
            let user = try readJIDUser(input)
            let device = UInt16(try readBigEndian(input, byteCount: 2))
            let integrator = UInt16(try readBigEndian(input, byteCount: 2))
            try expectServer(input, .interop)
            return JID(user: user, device: device, server: .interop, integrator: integrator)
        }
    }

    mutating func readJIDUser(_ input: Span<UInt8>) throws(NodeError) -> String {
        guard let user = try readText(input, orThrow: .invalidJID) else {
            throw error(.invalidJID)
        }
        return user
    }

    mutating func expectServer(_ input: Span<UInt8>, _ server: JID.Server) throws(NodeError) {
        guard try readText(input, orThrow: .invalidJID) == server.rawValue else {
            throw error(.invalidJID)
        }
    }
}
