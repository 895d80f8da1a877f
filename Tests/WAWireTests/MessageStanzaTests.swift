import Foundation
import Testing
@testable import WAWire

/// What we send: ids (messaging.md §1.4), addresses (§1.2), stanzas (§8.2, §8.3, §9.3, §5.2) and the
/// server's ack (§8.5).
@Suite struct MessageStanzaTests {
    typealias F = MessagingFixture

    @Test func messageIDMatchesTheProtocolNotesExample() {
        // ts 1760000000, user 15551234567, random bytes 00…0f (two little-endian words).
        var rng = ScriptedGenerator(words: [0x0706_0504_0302_0100, 0x0F0E_0D0C_0B0A_0908])
        #expect(MessageID.generate(unixSeconds: 1_760_000_000, ownUser: "15551234567", using: &rng) == "3EB064D038B64BEFB33326")
        var other = SeededRandom(seed: 1)
        let id = MessageID.generate(unixSeconds: 1, ownUser: nil, using: &other)
        #expect(id.count == 22)
        #expect(id.hasPrefix("3EB0"))
        #expect(id.utf8.allSatisfy { Packed.isHex($0) })
    }

    @Test func phashMatchesTheProtocolNotesExample() {
        let devices = [
            JID(user: "222222222222222", server: .lid),
            JID(user: "111111111111111", device: 5, server: .lid),
            JID(user: "111111111111111", server: .lid),
        ]
        #expect(DeviceListHash.v2(devices) == "2:coLX1CO6")
        #expect(DeviceListHash.v2(devices.reversed()) == "2:coLX1CO6")
    }

    @Test func signalAddressesNameTheDomain() {
        #expect(F.peerPN.signalAddress == "15551234567:0")
        #expect(F.peerLID.withDevice(3).signalAddress == "123456789012345_1:3")
        #expect(JID(user: "1555", device: 2, server: .hosted).signalAddress == "1555_128:2")
        #expect(JID(user: "9000", device: 1, server: .hostedLID).signalAddressName == "9000_129")
        #expect(F.peerLID.isLID && F.peerPN.isPhoneNumber && !F.group.isUser && F.group.isGroup)
        #expect(JID.statusBroadcast.description == "status@broadcast")
        #expect(JID(user: "1", device: 4, server: .hostedLID).unhosted == F.peerLID.withDevice(4).with(user: "1"))
        #expect(LIDMapping(F.peerPN.withDevice(2), F.peerLID.withDevice(2)) == LIDMapping(F.peerLID, F.peerPN))
        #expect(LIDMapping(F.peerLID, F.group) == nil)
    }

    @Test func directStanzaCarriesDeviceIdentityOnlyWithAPreKeyMessage() throws {
        var reaction = WAMessage()
        reaction.reactionMessage.text = "👍"
        let attributes = MessageAttributes(for: reaction)
        #expect(attributes == MessageAttributes(type: "reaction", hidesDecryptFailure: true))
        let recipients = [
            MessageStanza.DeviceCiphertext(device: F.peerLID, type: .message, ciphertext: [1]),
            MessageStanza.DeviceCiphertext(device: F.peerLID.withDevice(4), type: .preKeyMessage, ciphertext: [2]),
            MessageStanza.DeviceCiphertext(device: F.ownLID, type: .message, ciphertext: [3]),
        ]
        let stanza = MessageStanza.direct(
            id: "3EB0", to: F.peerLID, attributes: attributes, recipients: recipients, deviceIdentity: [0xDD],
            peerRecipientPN: F.peerPN, privacyToken: .trustedContact([0x70])
        )
        #expect(stanza == Node("message", ["id": "3EB0", "type": "reaction", "to": .jid(F.peerLID), "peer_recipient_pn": .jid(F.peerPN)], [
            Node("participants", [
                Node("to", ["jid": .jid(F.peerLID)], [Node("enc", ["v": "2", "type": "msg", "decrypt-fail": "hide"], bytes: [1])]),
                Node("to", ["jid": .jid(F.peerLID.withDevice(4))], [Node("enc", ["v": "2", "type": "pkmsg", "decrypt-fail": "hide"], bytes: [2])]),
                Node("to", ["jid": .jid(F.ownLID)], [Node("enc", ["v": "2", "type": "msg", "decrypt-fail": "hide"], bytes: [3])]),
            ]),
            Node("device-identity", bytes: [0xDD]),
            Node("tctoken", bytes: [0x70]),
        ]))
        let noPreKey = MessageStanza.direct(
            id: "3EB1", to: F.peerLID, attributes: MessageAttributes(for: Self.text("hi")),
            recipients: [recipients[0]], deviceIdentity: [0xDD], privacyToken: .nctSalted([0x71])
        )
        #expect(noPreKey.children.map(\.tag) == ["participants", "cstoken"])
        #expect(noPreKey.attribute("type") == "text")
        // The stanza survives the wire and reads back as a message to our peer.
        #expect(try F.wire(stanza).child("participants")?.children.count == 3)
    }

    @Test func groupStanzaHasPhashAndTheSenderKeyMessageLast() {
        var image = WAMessage()
        image.imageMessage.caption = "c"
        let devices = [F.peerLID.withDevice(3), F.ownLID]
        let stanza = MessageStanza.group(
            id: "3EB2", to: F.group, attributes: MessageAttributes(for: image),
            recipients: [MessageStanza.DeviceCiphertext(device: devices[0], type: .preKeyMessage, ciphertext: [9])],
            senderKeyCiphertext: [8], phash: DeviceListHash.v2(devices), deviceIdentity: [0xDD], addressingMode: "lid"
        )
        #expect(stanza == Node("message", [
            "id": "3EB2", "type": "media", "to": .jid(F.group), "addressing_mode": "lid", "phash": .string(DeviceListHash.v2(devices)),
        ], [
            Node("participants", [Node("to", ["jid": .jid(devices[0])], [Node("enc", ["v": "2", "type": "pkmsg"], bytes: [9])])]),
            Node("device-identity", bytes: [0xDD]),
            Node("enc", ["v": "2", "type": "skmsg", "mediatype": "image"], bytes: [8]),
        ]))
    }

    @Test func aGroupStanzaWithoutCarriersHasNoParticipants() {
        let stanza = MessageStanza.group(
            id: "3EB5", to: F.group, attributes: MessageAttributes(for: Self.text("hi")), recipients: [],
            senderKeyCiphertext: [8], phash: "2:AAAAAAAA", deviceIdentity: [0xDD]
        )
        #expect(stanza == Node("message", ["id": "3EB5", "type": "text", "to": .jid(F.group), "phash": "2:AAAAAAAA"], [
            Node("enc", ["v": "2", "type": "skmsg"], bytes: [8]),
        ]))
    }

    @Test func retryResendGoesToTheRequestingDeviceOnly() throws {
        let receiptNode = Node("receipt", [
            "from": .jid(F.group), "participant": .jid(F.peerLID.withDevice(3)), "id": "3EB3", "type": "retry", "t": "20",
        ], [Node("retry", ["count": "2", "id": "3EB3", "t": "10", "v": "1"]), Node("registration", bytes: [0, 0, 0, 1])])
        let retry = try #require(try IncomingReceipt(F.wire(receiptNode), own: F.own).retry)
        let resend = retry.resend(attributes: MessageAttributes(for: Self.text("again")), type: .preKeyMessage, ciphertext: [5], deviceIdentity: [0xDD])
        #expect(resend == Node("message", [
            "to": .jid(F.group), "type": "text", "id": "3EB3", "t": "10", "participant": .jid(F.peerLID.withDevice(3)),
        ], [
            Node("enc", ["v": "2", "type": "pkmsg", "count": "2"], bytes: [5]),
            Node("device-identity", bytes: [0xDD]),
        ]))

        let dmNode = Node("receipt", ["from": .jid(F.peerLID.withDevice(3)), "id": "3EB4", "type": "retry", "t": "20"],
                          [Node("retry", ["count": "1", "id": "3EB4", "t": "11"])])
        let dmRetry = try #require(try IncomingReceipt(dmNode, own: F.own).retry)
        let dmResend = dmRetry.resend(attributes: MessageAttributes(type: "text"), type: .message, ciphertext: [6], deviceIdentity: [0xDD])
        #expect(dmResend.attribute("device_fanout") == "false")
        #expect(dmResend.children.map(\.tag) == ["enc"])
    }

    @Test func attributesFollowWhatsmeowsRules() {
        var revoke = WAMessage()
        revoke.protocolMessage.type = MessageContent.ProtocolType.revoke.rawValue
        revoke.protocolMessage.key.fromMe = true
        #expect(MessageAttributes(for: revoke) == MessageAttributes(type: "text", edit: "7", hidesDecryptFailure: true))

        var edit = WAMessage()
        edit.protocolMessage.type = MessageContent.ProtocolType.messageEdit.rawValue
        edit.protocolMessage.key.id = "X"
        edit.protocolMessage.editedMessage = Self.text("new")
        var wrapped = WAMessage()
        wrapped.editedMessage.message = edit
        #expect(MessageAttributes(for: wrapped).edit == "1")

        var voice = WAMessage()
        voice.ephemeralMessage.message.audioMessage.ptt = true
        #expect(MessageAttributes(for: voice) == MessageAttributes(type: "media", mediaType: "ptt"))

        var link = WAMessage()
        link.extendedTextMessage.title = "Example"
        #expect(MessageAttributes(for: link) == MessageAttributes(type: "media", mediaType: "url"))

        var vote = WAMessage()
        vote.pollUpdateMessage.senderTimestampMs = 1
        #expect(MessageAttributes(for: vote) == MessageAttributes(type: "poll", hidesDecryptFailure: true))
    }

    @Test func serverAckGivesTimestampPhashAndErrors() throws {
        let ok = try ServerAck(F.wire(Node("ack", ["class": "message", "id": "3EB0", "from": .jid(F.peerLID), "t": "1760000009", "phash": "2:coLX1CO6"])))
        #expect(ok.isSuccess)
        #expect(ok.timestamp == 1_760_000_009)
        #expect(!ok.phashDiffers(from: "2:coLX1CO6"))
        #expect(ok.phashDiffers(from: "2:AAAAAAAA"))

        let refused = try ServerAck(Node("ack", ["class": "message", "id": "3EB0", "error": "463"]))
        #expect(!refused.isSuccess)
        #expect(refused.error == ServerAck.missingPrivacyToken)
        #expect(!refused.phashDiffers(from: "2:AAAAAAAA"))

        let receiptAck = MessagingFixture.failure { () throws(StanzaError) in try ServerAck(Node("ack", ["class": "receipt", "id": "1"])) }
        #expect(receiptAck == StanzaError(.invalidAttribute, at: "ack.class"))
    }

    static func text(_ text: String) -> WAMessage {
        var message = WAMessage()
        message.conversation = text
        return message
    }
}

extension JID {
    fileprivate func with(user: String) -> JID {
        var jid = self
        jid.user = user
        return jid
    }
}
