import Testing
import WAWire

@Suite("Binary nodes: golden fixtures and worked examples")
struct NodeGoldenTests {
    static let fixtureNames = NodeFixture.all.map(\.name)

    /// zapo encodes these two differently from whatsmeow; their own tests below say how.
    static let zapoOnlyEncodings: Set = ["jids all domain types", "empty attrs empty content list"]

    @Test func allSixteenFixturesAreLoaded() {
        #expect(NodeFixture.all.count == 16)
    }

    @Test(arguments: fixtureNames)
    func fixtureDecodesToItsNode(name: String) throws {
        let fixture = try #require(NodeFixture.named(name))
        let node = try NodeDecoder().decode(nodeBytes: fixture.bytes)
        #expect(fixture.node.matches(node), "\(node)")
    }

    @Test(arguments: fixtureNames)
    func fixtureSurvivesDecodeEncodeDecode(name: String) throws {
        let fixture = try #require(NodeFixture.named(name))
        let decoder = NodeDecoder()
        let node = try decoder.decode(nodeBytes: fixture.bytes)
        let again = try decoder.decode(frame: NodeEncoder.encode(node))
        #expect(again == normalizedForRoundTrip(node))
    }

    @Test(arguments: fixtureNames.filter { !zapoOnlyEncodings.contains($0) })
    func fixtureReencodesByteExactWhereZapoAgreesWithWhatsmeow(name: String) throws {
        let fixture = try #require(NodeFixture.named(name))
        let node = try NodeDecoder().decode(nodeBytes: fixture.bytes)
        #expect(try NodeEncoder.encode(node) == [0] + fixture.bytes)
    }

    @Test func emptyChildListIsWrittenAsListEmptyAsWhatsmeowDoes() throws {
        let fixture = try #require(NodeFixture.named("empty attrs empty content list"))
        let node = try NodeDecoder().decode(nodeBytes: fixture.bytes)
        #expect(node == Node("presence", []))
        // zapo writes F8 00; whatsmeow's writeListStart(0) writes LIST_EMPTY, read back as no content.
        #expect(try NodeEncoder.encode(node) == [0x00, 0xF8, 0x02, 0x1F, 0x00])
        #expect(try NodeDecoder().decode(frame: NodeEncoder.encode(node)) == Node("presence", content: .none))
    }

    @Test func jidFixtureReencodesWithWhatsmeowJIDForms() throws {
        let fixture = try #require(NodeFixture.named("jids all domain types"))
        let node = try NodeDecoder().decode(nodeBytes: fixture.bytes)
        let textOnly: Set = ["colonNoDigit", "multiAt", "trailingAt", "leadingAt"]
        for attribute in node.attributes {
            #expect((node.jidAttribute(attribute.key) == nil) == textOnly.contains(attribute.key), "\(attribute.key)")
        }
        #expect(node.jidAttribute("deviceZero") == JID(user: "5511999998888", server: .whatsApp))
        #expect(node.jidAttribute("pnDevice255") == JID(user: "5511999998888", device: 255, server: .whatsApp))
        #expect(node.jidAttribute("weird")?.description == "someone@unknown.example.com")

        // zapo writes device-less hosted JIDs as JID_PAIR; whatsmeow always uses AD_JID for hosted servers.
        let hosted = Node("message", ["hosted": node.attributes["hosted"]!, "hostedLid": node.attributes["hostedLid"]!])
        #expect(try NodeEncoder.encode(hosted).hex == "00" + "f805" + "13" + "fc06686f73746564" + "f78000ff875511888887777f"
            + "fc09686f737465644c6964" + "f78100ff8398765f")
    }

    static let workedExamples: [(node: Node, hex: String)] = [
        (
            Node("iq", ["id": "123.45-1", "xmlns": "w:p", "type": "get", "to": .server]),
            "00 f8 09 19 08 ff 04 12 3b 45 a1 16 57 04 29 11 fa 00 03"
        ),
        (
            Node("iq", ["id": "123.45-2", "xmlns": "passive", "type": "set", "to": .server], [Node("active")]),
            "00 f8 0a 19 08 ff 04 12 3b 45 a2 16 ec 18 04 5a 11 fa 00 03 f8 01 f8 01 ec 01"
        ),
        (
            Node("receipt", ["to": .jid(JID(user: "15551234567", device: 12, server: .whatsApp)), "id": "3EB0A1B2C3D4E5F6"]),
            "00 f8 05 07 11 f7 00 0c ff 86 15 55 12 34 56 7f 08 fb 08 3e b0 a1 b2 c3 d4 e5 f6"
        ),
        (
            Node("ack", ["to": .jid(JID(user: "123456789012345", device: 3, server: .lid))]),
            "00 f8 03 1b 11 f7 01 03 ff 88 12 34 56 78 90 12 34 5f"
        ),
        (
            Node("ref", bytes: [1, 2, 3]),
            "00 f8 02 ed 50 fc 03 01 02 03"
        ),
    ]

    @Test(arguments: 0..<workedExamples.count)
    func workedExampleEncodesByteExact(index: Int) throws {
        let example = Self.workedExamples[index]
        let encoded = try NodeEncoder.encode(example.node)
        #expect(encoded == [UInt8](hex: example.hex))
        #expect(try NodeDecoder().decode(frame: encoded) == example.node)
    }
}
