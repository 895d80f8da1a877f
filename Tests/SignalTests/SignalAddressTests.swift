import Signal
import Testing
import WAWire

/// Signal store keys: `name:device`, with `_<domain>` for LID and hosted users.
@Suite struct SignalAddressTests {
    @Test(arguments: [
        ("15551234567@s.whatsapp.net", "15551234567:0"),
        ("15551234567:2@s.whatsapp.net", "15551234567:2"),
        ("123456789012345@lid", "123456789012345_1:0"),
        ("123456789012345:3@lid", "123456789012345_1:3"),
        ("15551234567:5@hosted", "15551234567_128:5"),
        ("123456789012345:4@hosted.lid", "123456789012345_129:4"),
    ])
    func addressesFollowWhatsmeow(jid: String, address: String) throws {
        #expect(SignalAddress(try #require(JID(parsing: jid))).description == address)
    }

    @Test func senderKeyNamesSerializeAsPythonAxolotlDoes() throws {
        let root = try SignalTestKit.vector("signal-group")
        let sender = SignalAddress(name: try root["sender_address"]["name"].string(), device: try root["sender_address"]["device_id"].uint32())
        let name = SenderKeyName(groupID: try root["group_id"].string(), sender: sender)
        #expect(name.description == (try root["sender_key_name_serialized"].string()))
        #expect(sender.description == "15551234567:0")
    }
}
