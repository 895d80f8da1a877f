import Foundation
import Testing
import WAWire

@Suite("Binary nodes: malformed input, limits and compressed frames")
struct NodeDecoderTests {
    static let malformed: [(bytes: [UInt8], code: NodeError.Code, note: String)] = [
        ([0xF8], .truncated, "list size missing"),
        ([0xF8, 0x02, 0x19], .truncated, "declared content missing"),
        ([0xF8, 0x02, 0x19, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF], .truncated, "BINARY_32 of 4 GiB in 8 bytes"),
        ([0xF8, 0x02, 0x19, 0xFF, 0x05, 0x12], .truncated, "packed string longer than the input"),
        ([0xF8, 0x01, 0xF0], .invalidToken, "unused tag byte as a tag"),
        ([0xF8, 0x02, 0x19, 0xF4], .invalidToken, "unused tag byte as content"),
        ([0x19], .invalidListTag, "node without a list header"),
        ([0x00], .emptyNode, "LIST_EMPTY as a node"),
        ([0xF8, 0x00], .emptyNode, "list of size 0 as a node"),
        ([0xF8, 0x01, 0x00], .invalidTag, "no tag"),
        ([0xF8, 0x01, 0xFF, 0x00], .invalidTag, "empty tag"),
        ([0xF8, 0x01, 0xFA, 0x00, 0x03], .invalidTag, "JID as a tag"),
        ([0xF8, 0x01, 0xF8, 0x01, 0x19], .invalidTag, "list as a tag"),
        ([0xF8, 0x03, 0x19, 0xFA, 0x00, 0x03, 0x04], .invalidAttribute, "JID as a key"),
        ([0xF8, 0x03, 0x19, 0x04, 0xF8, 0x01, 0x19], .invalidAttribute, "list as a value"),
        ([0xF8, 0x02, 0x19, 0xFA, 0x00, 0x00], .invalidJID, "JID_PAIR without server"),
        ([0xF8, 0x02, 0x19, 0xFA, 0xFA, 0x00, 0x03, 0x03], .invalidJID, "JID as a JID's user"),
        ([0xF8, 0x02, 0x19, 0xF7, 0x00, 0x01, 0x00], .invalidJID, "AD_JID without user"),
        ([0xF8, 0x02, 0x19, 0xF6, 0xFF, 0x01, 0x12, 0x00, 0x01, 0x03], .invalidJID, "FB_JID on s.whatsapp.net"),
        ([0xF8, 0x02, 0x19, 0xF5, 0xFF, 0x01, 0x12, 0x00, 0x01, 0x00, 0x02, 0xCC], .invalidJID, "INTEROP_JID on msgr"),
        ([0xF8, 0x02, 0x19, 0xFF, 0x01, 0xC0], .invalidPacked, "nibble code 12"),
        ([0xF8, 0x02, 0x19, 0xFF, 0x80], .invalidPacked, "odd flag on an empty packed string"),
        ([0xF8, 0x02, 0x19, 0xF9, 0xFF, 0xFF], .listTooLarge, "65,535 children in no bytes"),
        ([0xF8, 0xFF, 0x19, 0x04], .listTooLarge, "127 attributes in one byte"),
        ([0xF8, 0x01, 0x19, 0x00], .trailingBytes, "byte after the root node"),
    ]

    @Test(arguments: 0..<malformed.count)
    func malformedNodeBytesFailWithTheirCode(index: Int) {
        let (bytes, code, note) = Self.malformed[index]
        let error = #expect(throws: NodeError.self, "\(note)") {
            try NodeDecoder().decode(nodeBytes: bytes)
        }
        #expect(error?.code == code, "\(note)")
    }

    @Test func errorsNameCodeAndOffsetOnly() throws {
        let error = #expect(throws: NodeError.self) {
            try NodeDecoder().decode(nodeBytes: [0xF8, 0x01, 0x19, 0x00])
        }
        #expect(error == NodeError(.trailingBytes, offset: 3))
        #expect(error?.description == "NodeError(trailing_bytes at byte 3)")
    }

    @Test func emptyFrameHasNoFlagsByte() {
        #expect(throws: NodeError(.emptyFrame)) {
            try NodeDecoder().decode(frame: [])
        }
    }

    @Test func binary20LengthUsesOnlyTwentyBits() throws {
        let node = try NodeDecoder().decode(nodeBytes: [0xF8, 0x02, 0x19, 0xFD, 0xF0, 0x00, 0x01, 0xAA])
        #expect(node.bytes == [0xAA])
    }

    @Test func binaryAttributeValuesReadAsText() throws {
        let node = try NodeDecoder().decode(nodeBytes: [0xF8, 0x03, 0x19, 0x08, 0xFC, 0x02, 0x68, 0x69])
        #expect(node.attributes["id"] == "hi")
    }

    @Test func listEmptyAttributeValueCountsAsAbsent() throws {
        let node = try NodeDecoder().decode(nodeBytes: [0xF8, 0x03, 0x19, 0x08, 0x00])
        #expect(node == Node("iq"))
    }

    @Test func nestingBeyondTheDepthLimitIsRejected() throws {
        var node = Node("leaf")
        for _ in 0..<4 {
            node = Node("iq", [node])
        }
        let frame = try NodeEncoder.encode(node)
        #expect(try NodeDecoder(limits: .init(maxDepth: 5)).decode(frame: frame) == node)
        let shallow = #expect(throws: NodeError.self) {
            try NodeDecoder(limits: .init(maxDepth: 4)).decode(frame: frame)
        }
        #expect(shallow?.code == .tooDeep)
        var deep = Node("leaf")
        for _ in 0..<100 {
            deep = Node("iq", [deep])
        }
        // Each level is F8 02 19 F8 01: the 65th node starts at byte 320.
        #expect(throws: NodeError(.tooDeep, offset: 320)) {
            try NodeDecoder().decode(frame: NodeEncoder.encode(deep))
        }
    }

    @Test func stanzasWithTooManyNodesAreRejected() throws {
        let frame = try NodeEncoder.encode(Node("list", (0..<10).map { _ in Node("item") }))
        #expect(try NodeDecoder(limits: .init(maxNodes: 11)).decode(frame: frame).children.count == 10)
        let error = #expect(throws: NodeError.self) {
            try NodeDecoder(limits: .init(maxNodes: 10)).decode(frame: frame)
        }
        #expect(error?.code == .tooManyNodes)
    }

    @Test func compressedFrameInflatesToTheSameNode() throws {
        let node = NodeModelTests.pairSuccess
        let frame = try FramePayload.compressed(NodeEncoder.encode(node))
        #expect(frame.first == 0x02)
        #expect(try NodeDecoder().decode(frame: frame) == node)
        #expect(try FramePayload.nodeBytes(of: frame) == Array(NodeEncoder.encode(node).dropFirst()))
    }

    @Test func decryptedDataDecodesInPlaceLikeAnArray() throws {
        let node = NodeModelTests.pairSuccess
        let plain = try NodeEncoder.encode(node)
        let compressed = try FramePayload.compressed(plain)
        // The transport hands out slices whose indices do not start at 0.
        #expect(try NodeDecoder().decode(frame: Data([9, 9, 9] + plain).dropFirst(3)) == node)
        #expect(try NodeDecoder().decode(frame: Data([9] + compressed).dropFirst()) == node)
        #expect(throws: NodeError(.emptyFrame)) { try NodeDecoder().decode(frame: Data([9]).dropFirst()) }
        #expect(throws: NodeError(.truncated, offset: 2)) {
            try NodeDecoder().decode(frame: Data([9, 0x00, 0xF8, 0x02]).dropFirst())
        }
    }

    @Test func flagBitsOtherThanCompressionAreIgnored() throws {
        var plain = try NodeEncoder.encode(Node("iq"))
        plain[0] = 0xFD
        #expect(try NodeDecoder().decode(frame: plain) == Node("iq"))
        var compressed = try FramePayload.compressed(NodeEncoder.encode(Node("iq")))
        compressed[0] = 0xFF
        #expect(try NodeDecoder().decode(frame: compressed) == Node("iq"))
    }

    @Test func zlibBombIsStoppedAtTheCap() throws {
        let size = 5 << 20
        let bomb = try FramePayload.compressed([0] + [UInt8](repeating: 0, count: size))
        #expect(bomb.count < 16 << 10)
        #expect(throws: NodeError(.inflatedTooLarge)) {
            try NodeDecoder().decode(frame: bomb)
        }
        #expect(throws: NodeError(.inflatedTooLarge)) {
            try FramePayload.nodeBytes(of: bomb, maxInflatedSize: size - 1)
        }
        #expect(try FramePayload.nodeBytes(of: bomb, maxInflatedSize: size).count == size)
    }

    @Test func corruptZlibStreamsAreRejected() throws {
        let frame = try FramePayload.compressed(NodeEncoder.encode(NodeModelTests.pairSuccess))
        let cases: [[UInt8]] = [
            [0x02],
            Array(frame.dropLast(5)),
            frame + [0x00],
            [0x02, 0x78, 0x9C, 0xFF, 0xFF, 0xFF],
            [0x02] + Array("not zlib at all".utf8),
        ]
        for input in cases {
            #expect(throws: NodeError(.inflateFailed)) {
                try NodeDecoder().decode(frame: input)
            }
        }
    }
}
