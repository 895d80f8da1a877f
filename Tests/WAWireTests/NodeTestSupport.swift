import Foundation
import WAWire

/// One entry of Vectors/binary-node-golden.json (zapo's codec fixtures: hex without the flags byte).
struct NodeFixture: Decodable {
    let name: String
    let node: FixtureNode
    let hex: String

    var bytes: [UInt8] {
        [UInt8](hex: hex)
    }

    static let all: [NodeFixture] = {
        guard
            let url = Bundle.module.url(forResource: "binary-node-golden", withExtension: "json", subdirectory: "Vectors"),
            let data = try? Data(contentsOf: url),
            let fixtures = try? JSONDecoder().decode([NodeFixture].self, from: data)
        else {
            return []
        }
        return fixtures
    }()

    static func named(_ name: String) -> NodeFixture? {
        all.first { $0.name == name }
    }
}

/// The fixture's node as JSON has it: values are strings, JIDs included; bytes are `{"$bytes": hex}`.
struct FixtureNode: Decodable {
    let tag: String
    let attrs: [String: String]
    let content: FixtureContent?
}

enum FixtureContent: Decodable {
    case text(String)
    case nodes([FixtureNode])
    case bytes([UInt8])

    private struct Bytes: Decodable {
        let hex: String

        enum CodingKeys: String, CodingKey {
            case hex = "$bytes"
        }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else if let nodes = try? container.decode([FixtureNode].self) {
            self = .nodes(nodes)
        } else {
            self = .bytes([UInt8](hex: try container.decode(Bytes.self).hex))
        }
    }
}

extension FixtureNode {
    /// Whether a decoded node has this structure. A JID-typed value matches the string it parses from
    /// (so `…:0@s.whatsapp.net` matches the device-less JID); zapo writes string content as raw bytes,
    /// which the whatsmeow rules read back as binary content.
    func matches(_ node: Node) -> Bool {
        guard node.tag == tag, node.attributes.count == attrs.count else {
            return false
        }
        for attribute in node.attributes {
            guard let expected = attrs[attribute.key] else {
                return false
            }
            switch attribute.value {
            case .string(let text) where text == expected:
                continue
            case .jid(let jid) where JID(parsing: expected) == jid:
                continue
            default:
                return false
            }
        }
        switch (content, node.content) {
        case (nil, .none):
            return true
        case (.text(let text), .string(let decoded)):
            return text == decoded
        case (.text(let text), .bytes(let decoded)):
            return Array(text.utf8) == decoded
        case (.bytes(let bytes), .bytes(let decoded)):
            return bytes == decoded
        case (.nodes(let children), .nodes(let decoded)):
            return children.count == decoded.count && zip(children, decoded).allSatisfy { $0.matches($1) }
        default:
            return false
        }
    }
}

/// What a node becomes after whatsmeow-rule encoding and decoding: attributes with an empty string
/// value are left out, an empty child list is written as LIST_EMPTY (read back as no content), and an
/// AD_JID raw agent is not written (whatsmeow's `ActualAgent` is 0 for s.whatsapp.net).
func normalizedForRoundTrip(_ node: Node) -> Node {
    let attributes = node.attributes
        .filter { $0.value != .string("") }
        .map { Node.Attribute(key: $0.key, value: normalized($0.value)) }
    let content: NodeContent
    switch node.content {
    case .nodes(let children) where children.isEmpty:
        content = .none
    case .nodes(let children):
        content = .nodes(children.map(normalizedForRoundTrip))
    case .jid(let jid):
        content = .jid(withoutRawAgent(jid))
    default:
        content = node.content
    }
    return Node(node.tag, Node.Attributes(attributes), content: content)
}

private func normalized(_ value: AttributeValue) -> AttributeValue {
    guard case .jid(let jid) = value else {
        return value
    }
    return .jid(withoutRawAgent(jid))
}

private func withoutRawAgent(_ jid: JID) -> JID {
    var jid = jid
    jid.rawAgent = 0
    return jid
}

extension [UInt8] {
    init(hex: String) {
        var bytes: [UInt8] = []
        var high: UInt8?
        for char in hex.utf8 {
            let value: UInt8
            switch char {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = char - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = char - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = char - UInt8(ascii: "A") + 10
            default: continue
            }
            if let pending = high {
                bytes.append(pending << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        self = bytes
    }

    var hex: String {
        map { String(format: "%02x", $0) }.joined()
    }
}
