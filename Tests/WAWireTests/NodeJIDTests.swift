import Testing
import WAWire

@Suite("Binary nodes: JIDs")
struct NodeJIDTests {
    static let renderedForms: [(String, JID)] = [
        ("s.whatsapp.net", JID.serverJID),
        ("5511999998888@s.whatsapp.net", JID(user: "5511999998888", server: .whatsApp)),
        ("5511999998888:12@s.whatsapp.net", JID(user: "5511999998888", device: 12, server: .whatsApp)),
        ("123456789012345:3@lid", JID(user: "123456789012345", device: 3, server: .lid)),
        ("120363042123456789@g.us", JID(user: "120363042123456789", server: .group)),
        ("status@broadcast", JID(user: "status", server: .broadcast)),
        ("16505361212@c.us", JID(user: "16505361212", server: .legacyUser)),
        ("120363154211234567@newsletter", JID(user: "120363154211234567", server: .newsletter)),
        ("5511888887777:1@hosted", JID(user: "5511888887777", device: 1, server: .hosted)),
        ("98765:2@hosted.lid", JID(user: "98765", device: 2, server: .hostedLID)),
        ("100001:5@msgr", JID(user: "100001", device: 5, server: .messenger)),
        ("7-5511:2@interop", JID(user: "5511", device: 2, server: .interop, integrator: 7)),
        ("13135550002@bot", JID(user: "13135550002", server: .bot)),
        ("5511999998888.7:3@s.whatsapp.net", JID(user: "5511999998888", device: 3, server: .whatsApp, rawAgent: 7)),
        ("someone@unknown.example.com", JID(user: "someone", server: "unknown.example.com")),
    ]

    @Test(arguments: 0..<renderedForms.count)
    func jidRendersAndParsesBack(index: Int) {
        let (text, jid) = Self.renderedForms[index]
        #expect(jid.description == text)
        #expect(JID(parsing: text) == jid)
    }

    @Test(arguments: ["", "user@", "a@b@c", "user:abc@s.whatsapp.net", "user:70000@s.whatsapp.net",
                      "user.300:1@s.whatsapp.net", "user.1:2:3@s.whatsapp.net", "user:+5@s.whatsapp.net"])
    func malformedJIDTextIsRejected(text: String) {
        #expect(JID(parsing: text) == nil)
    }

    @Test func deviceZeroAndBaileysServerFormParse() {
        #expect(JID(parsing: "5511999998888:0@s.whatsapp.net") == JID(user: "5511999998888", server: .whatsApp))
        #expect(JID(parsing: "@s.whatsapp.net") == JID.serverJID)
    }

    @Test func userJIDDropsAgentAndDevice() {
        let device = JID(user: "123", device: 4, server: .whatsApp, rawAgent: 2)
        #expect(device.userJID == JID(user: "123", server: .whatsApp))
    }

    static let wireForms: [(JID, String)] = [
        (JID.serverJID, "fa0003"),
        (JID(user: "5511999998888", server: .whatsApp), "faff875511999998888f03"),
        (JID(user: "5511999998888", device: 12, server: .whatsApp), "f7000cff875511999998888f"),
        (JID(user: "123456789012345", server: .lid), "faff88123456789012345f76"),
        (JID(user: "5511888887777", server: .hosted), "f78000ff875511888887777f"),
        (JID(user: "98765", device: 2, server: .hostedLID), "f78102ff8398765f"),
        (JID(user: "100001", device: 5, server: .messenger), "f6ff031000010005cc"),
        (JID(user: "5511", device: 2, server: .interop, integrator: 7), "f5ff025511" + "0002" + "0007" + "fc07696e7465726f70"),
    ]

    @Test(arguments: 0..<wireForms.count)
    func jidUsesWhatsmeowWireForm(index: Int) throws {
        let (jid, hex) = Self.wireForms[index]
        let encoded = try NodeEncoder.encode(Node("iq", content: .jid(jid)))
        #expect(Array(encoded.dropFirst(4)).hex == hex)
        #expect(try NodeDecoder().decode(frame: encoded).content == .jid(jid))
    }

    @Test func unknownADDomainIsKeptAsRawAgentOnSWhatsappNet() throws {
        // <iq>{AD_JID domain 5, device 3, user "12"}</iq>
        let node = try NodeDecoder().decode(nodeBytes: [0xF8, 0x02, 0x19, 0xF7, 0x05, 0x03, 0xFF, 0x01, 0x12])
        #expect(node.content == .jid(JID(user: "12", device: 3, server: .whatsApp, rawAgent: 5)))
        #expect(node.description == "<iq>12.5:3@s.whatsapp.net</iq>")
    }

    @Test func adJIDDeviceAbove255CannotBeEncoded() {
        #expect(throws: NodeError(.unencodable)) {
            try NodeEncoder.encode(Node("x", ["to": .jid(JID(user: "1", device: 256, server: .whatsApp))]))
        }
    }
}
