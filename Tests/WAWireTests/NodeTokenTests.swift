import Crypto
import Testing
import WAWire

@Suite("Binary nodes: token tables")
struct NodeTokenTests {
    /// SHA-256 of the entries joined with "\n", from transport.md §5.8 (whatsmeow binary/token/token.go).
    static let expectedHashes = [
        "1e8302d2aba0d8c40d09fd79fc9c70347350cb00926dd0e3565683b347be35a5",
        "c19c763b07f7684fc58490eb838873edeec498d59bf4d56bbb33d8e7af4cb112",
        "e8894a798e1d92bc5f5f5cd1c2ffeef43a5c03acb1775b34d121ffe0a19b8f6a",
        "8f4081781e324d9ab95574b01ff37a44753403cebd0d1feeeb985661cc86cae8",
        "8e397aec42a6a503621910cf3d7a8f9e287e94192031265b6e55519e0e19fadc",
    ]

    @Test func compiledTablesHaveThePublishedHashes() {
        let tables = [NodeTokens.singleByte] + NodeTokens.doubleByte
        let hashes = tables.map { Array(SHA256.hash(data: Array($0.joined(separator: "\n").utf8))).hex }
        #expect(hashes == Self.expectedHashes)
        #expect(NodeTokens.singleByte.count == 236)
        #expect(NodeTokens.doubleByte.map(\.count) == [256, 256, 256, 256])
    }

    @Test func handyIndicesMatchTheNotes() {
        let expected: [Int: String] = [
            1: "xmlstreamstart", 2: "xmlstreamend", 3: "s.whatsapp.net", 8: "id", 17: "to", 22: "xmlns",
            25: "iq", 43: "urn:xmpp:ping", 76: "success", 87: "w:p", 157: "stream:error",
        ]
        for (index, token) in expected {
            #expect(NodeTokens.singleByte[index] == token)
        }
        #expect(NodeTokens.doubleByte[2].contains("failure"))
    }

    @Test func everyTokenEncodesAsItsCodeAndDecodesBack() throws {
        for (index, token) in NodeTokens.singleByte.enumerated().dropFirst() {
            let encoded = try NodeEncoder.encode(Node(token))
            #expect(encoded == [0x00, 0xF8, 0x01, UInt8(index)])
            #expect(try NodeDecoder().decode(frame: encoded).tag == token)
        }
        for (dictionary, tokens) in NodeTokens.doubleByte.enumerated() {
            for (index, token) in tokens.enumerated() {
                let encoded = try NodeEncoder.encode(Node(token))
                #expect(encoded == [0x00, 0xF8, 0x01, 0xEC + UInt8(dictionary), UInt8(index)])
                #expect(try NodeDecoder().decode(frame: encoded).tag == token)
            }
        }
    }
}
