/// Writes nodes in the binary form with whatsmeow's rules (binary/encoder.go), flags byte first.
///
/// Differences from whatsmeow that do not change the bytes of any stanza it could write: attributes
/// keep their order (whatsmeow's is a Go map's), and what whatsmeow would silently truncate or panic
/// on (see `NodeError.Code.unencodable`) throws instead.
public enum NodeEncoder {
    /// `00 ‖ node`: the plaintext of one transport frame.
    public static func encode(_ node: Node) throws(NodeError) -> [UInt8] {
        var writer = Writer()
        writer.bytes.append(0)
        try writer.write(node)
        return writer.bytes
    }
}

private struct Writer {
    var bytes: [UInt8] = []

    init() {
        bytes.reserveCapacity(256)
    }

    mutating func write(_ node: Node) throws(NodeError) {
        guard !node.tag.isEmpty else {
            throw NodeError(.unencodable)
        }
        // whatsmeow leaves out attributes whose value is the empty string (and does not count them).
        let attributeCount = node.attributes.count { $0.value != .string("") }
        let hasContent = node.content == .none ? 0 : 1
        try writeListStart(1 + 2 * attributeCount + hasContent)
        try writeString(node.tag)
        for attribute in node.attributes where attribute.value != .string("") {
            try writeString(attribute.key)
            switch attribute.value {
            case .string(let text): try writeString(text)
            case .jid(let jid): try write(jid)
            }
        }
        switch node.content {
        case .none:
            break
        case .nodes(let children):
            try writeListStart(children.count)
            for child in children {
                try write(child)
            }
        case .bytes(let content):
            try writeLength(content.count)
            bytes.append(contentsOf: content)
        case .string(let text):
            try writeString(text)
        case .jid(let jid):
            try write(jid)
        }
    }

    mutating func writeListStart(_ size: Int) throws(NodeError) {
        switch size {
        case 0:
            bytes.append(Tag.listEmpty)
        case 1...0xFF:
            bytes.append(Tag.list8)
            bytes.append(UInt8(size))
        case 0x100...0xFFFF:
            bytes.append(Tag.list16)
            appendBigEndian(size, byteCount: 2)
        default:
            throw NodeError(.unencodable)
        }
    }

    mutating func writeLength(_ length: Int) throws(NodeError) {
        if length < 0x100 {
            bytes.append(Tag.binary8)
            bytes.append(UInt8(length))
        } else if length < 1 << 20 {
            bytes.append(Tag.binary20)
            appendBigEndian(length, byteCount: 3)
        } else if length < Int(Int32.max) {
            bytes.append(Tag.binary32)
            appendBigEndian(length, byteCount: 4)
        } else {
            throw NodeError(.unencodable)
        }
    }

    /// Token, double-byte token, NIBBLE_8, HEX_8, else raw UTF-8: the first that fits.
    mutating func writeString(_ text: String) throws(NodeError) {
        if let code = NodeTokens.codes[text] {
            if code > 0xFF {
                bytes.append(UInt8(code >> 8))
            }
            bytes.append(UInt8(truncatingIfNeeded: code))
            return
        }
        let utf8 = text.utf8
        if utf8.count <= Packed.maxLength {
            if utf8.allSatisfy(Packed.isNibble) {
                writePacked(utf8, tag: Tag.nibble8, code: Packed.nibbleCode)
                return
            }
            if utf8.allSatisfy(Packed.isHex) {
                writePacked(utf8, tag: Tag.hex8, code: Packed.hexCode)
                return
            }
        }
        try writeLength(utf8.count)
        bytes.append(contentsOf: utf8)
    }

    mutating func writePacked(_ utf8: String.UTF8View, tag: UInt8, code: (UInt8) -> UInt8) {
        let count = utf8.count
        bytes.append(tag)
        bytes.append(UInt8((count + 1) / 2) | (count % 2 == 1 ? 0x80 : 0))
        var high: UInt8?
        for char in utf8 {
            if let pending = high {
                bytes.append(pending << 4 | code(char))
                high = nil
            } else {
                high = code(char)
            }
        }
        if let pending = high {
            bytes.append(pending << 4 | Packed.padding)
        }
    }

    /// whatsmeow's choice of JID form (encoder.go `writeJID`).
    mutating func write(_ jid: JID) throws(NodeError) {
        switch jid.server {
        case .whatsApp where jid.device > 0, .lid where jid.device > 0, .hosted, .hostedLID:
            guard jid.device <= 0xFF else {
                throw NodeError(.unencodable)
            }
            bytes.append(Tag.adJID)
            bytes.append(jid.domainType)
            bytes.append(UInt8(jid.device))
            try writeString(jid.user)
        case .messenger:
            bytes.append(Tag.fbJID)
            try writeString(jid.user)
            appendBigEndian(Int(jid.device), byteCount: 2)
            try writeString(jid.server.rawValue)
        case .interop:
            bytes.append(Tag.interopJID)
            try writeString(jid.user)
            appendBigEndian(Int(jid.device), byteCount: 2)
            appendBigEndian(Int(jid.integrator), byteCount: 2)
            try writeString(jid.server.rawValue)
        default:
            bytes.append(Tag.jidPair)
            if jid.user.isEmpty {
                bytes.append(Tag.listEmpty)
            } else {
                try writeString(jid.user)
            }
            try writeString(jid.server.rawValue)
        }
    }

    mutating func appendBigEndian(_ value: Int, byteCount: Int) {
        for shift in stride(from: (byteCount - 1) * 8, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }
}
