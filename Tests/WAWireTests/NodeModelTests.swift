import Testing
import WAWire

@Suite("Binary nodes: building, reading and logging stanzas")
struct NodeModelTests {
    static let pairSuccess = Node("iq", ["from": .server, "type": "set", "id": "1234", "xmlns": "md"], [
        Node("pair-success", [
            Node("device-identity", ["key-index": "1"], bytes: [UInt8](repeating: 0xAB, count: 200)),
            Node("device", [
                "jid": .jid(JID(user: "5511999998888", device: 7, server: .whatsApp)),
                "lid": .jid(JID(user: "123456789012345", device: 7, server: .lid)),
            ]),
            Node("platform", ["name": "android"]),
        ]),
    ])

    @Test func attributesKeepTheOrderTheyAreWrittenIn() throws {
        let node = Node("iq", ["to": .server, "type": "get", "xmlns": "w:p", "id": "1"])
        #expect(node.attributes.map(\.key) == ["to", "type", "xmlns", "id"])
        let decoded = try NodeDecoder().decode(frame: NodeEncoder.encode(node))
        #expect(decoded.attributes.map(\.key) == ["to", "type", "xmlns", "id"])
    }

    @Test func jidTypedAttributesAreExplicit() throws {
        let id = "3EB0AAAA"
        let asJID = Node("iq", ["id": .string(id), "to": .server])
        let asText = Node("iq", ["id": "\(id)", "to": "s.whatsapp.net"])
        #expect(asJID.jidAttribute("to") == JID.serverJID)
        #expect(asText.jidAttribute("to") == nil)
        #expect(asText.attribute("to") == asJID.attribute("to"))
        // JID_PAIR FA 00 03 against the plain token 03.
        #expect(try NodeEncoder.encode(asJID).suffix(4) == [0x11, 0xFA, 0x00, 0x03])
        #expect(try NodeEncoder.encode(asText).suffix(2) == [0x11, 0x03])
    }

    @Test func accessorsFindChildrenAttributesAndBinaryContent() throws {
        let node = try NodeDecoder().decode(frame: NodeEncoder.encode(Self.pairSuccess))
        #expect(node == Self.pairSuccess)
        let success = try #require(node.child("pair-success"))
        #expect(success.child("device-identity")?.bytes?.count == 200)
        #expect(success.child("device-identity")?.attribute("key-index") == "1")
        #expect(success.child("device")?.jidAttribute("lid") == JID(user: "123456789012345", device: 7, server: .lid))
        #expect(success.child("device")?.attribute("jid") == "5511999998888:7@s.whatsapp.net")
        #expect(success.children(named: "platform").map { $0.attribute("name") } == ["android"])
        #expect(success.child("biz") == nil)
        #expect(node.attribute("missing") == nil)
        #expect(node.bytes == nil)
        #expect(Node("body", content: .string("hi")).text == "hi")
    }

    @Test func attributeSubscriptReplacesAppendsAndRemoves() {
        var node = Node("iq", ["id": "1", "type": "get"])
        node.attributes["type"] = "set"
        node.attributes["to"] = .server
        node.attributes["id"] = nil
        #expect(node.attributes.map(\.key) == ["type", "to"])
        #expect(node.attribute("type") == "set")
    }

    @Test func emptyStringAttributesAreLeftOutAsWhatsmeowDoes() throws {
        let node = Node("iq", ["id": "1", "target": "", "type": "get"])
        let decoded = try NodeDecoder().decode(frame: NodeEncoder.encode(node))
        #expect(decoded == Node("iq", ["id": "1", "type": "get"]))
    }

    @Test func emptyStringContentIsAnEmptyNibbleString() throws {
        let encoded = try NodeEncoder.encode(Node("iq", content: .string("")))
        #expect(encoded == [0x00, 0xF8, 0x02, 0x19, 0xFF, 0x00])
        #expect(try NodeDecoder().decode(frame: encoded).content == .string(""))
    }

    @Test func emptyTagCannotBeEncoded() {
        #expect(throws: NodeError(.unencodable)) {
            try NodeEncoder.encode(Node(""))
        }
    }

    @Test func descriptionShowsStructureButOnlyTheLengthOfBinaryContent() {
        let text = Self.pairSuccess.description
        #expect(text.hasPrefix(#"<iq from="s.whatsapp.net" type="set" id="1234" xmlns="md"><pair-success>"#))
        #expect(text.contains(#"<device-identity key-index="1">[200 bytes]</device-identity>"#))
        #expect(text.contains(#"<device jid="5511999998888:7@s.whatsapp.net" lid="123456789012345:7@lid"/>"#))
        #expect(!text.contains("ab") && !text.contains("AB") && !text.contains("171"))
        #expect(Node("body", ["q": "a\"<&"], content: .string("x\u{1}")).description == #"<body q="a&quot;&lt;&amp;">x&#x1;</body>"#)
    }

    @Test func stringsPickTheShortestWhatsmeowForm() throws {
        func valueBytes(_ value: String) throws -> [UInt8] {
            Array(try NodeEncoder.encode(Node("iq", ["id": .string(value)])).dropFirst(5))
        }
        #expect(try valueBytes("result") == [0x14])
        #expect(try valueBytes("active") == [0xEC, 0x01])
        #expect(try valueBytes("123") == [0xFF, 0x82, 0x12, 0x3F])
        #expect(try valueBytes("3EB0") == [0xFB, 0x02, 0x3E, 0xB0])
        #expect(try valueBytes("3eb0") == [0xFC, 0x04] + Array("3eb0".utf8))
        #expect(try valueBytes(String(repeating: "1", count: 127)).prefix(2) == [0xFF, 0xC0])
        #expect(try valueBytes(String(repeating: "1", count: 128)).prefix(2) == [0xFC, 0x80])
        #expect(try valueBytes(String(repeating: "y", count: 256)).prefix(4) == [0xFD, 0x00, 0x01, 0x00])
        #expect(try valueBytes(String(repeating: "y", count: 1 << 20)).prefix(5) == [0xFE, 0x00, 0x10, 0x00, 0x00])
    }

    @Test func longChildListsUseList16() throws {
        let node = Node("list", (0..<300).map { _ in Node("item") })
        let encoded = try NodeEncoder.encode(node)
        #expect(encoded.prefix(7) == [0x00, 0xF8, 0x02, 0x71, 0xF9, 0x01, 0x2C])
        #expect(try NodeDecoder().decode(frame: encoded) == node)
        #expect(throws: NodeError(.unencodable)) {
            try NodeEncoder.encode(Node("list", (0..<65_536).map { _ in Node("item") }))
        }
    }
}
