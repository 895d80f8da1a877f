import Foundation
import SwiftProtobuf
import Testing
import WAWire

/// The `Message` protobuf subset and its inbox summary: messaging.md §2.6, §2.7.
@Suite struct MessageContentTests {
    static func bytes(_ message: WAMessage) throws -> [UInt8] {
        try message.serializedBytes()
    }

    static func wrapped(_ message: WAMessage) -> WAFutureProofMessage {
        var wrapper = WAFutureProofMessage()
        wrapper.message = message
        return wrapper
    }

    static func text(_ text: String) -> WAMessage {
        var message = WAMessage()
        message.conversation = text
        return message
    }

    @Test func fieldNumbersMatchWhatsApp() throws {
        // conversation 1 (0x0A), SKDM 2 {1, 2}, extendedText 6 {1, 17}, protocol 12 {1, 2}, DSM 31, context 35 {3}.
        #expect(try Self.bytes(Self.text("hi")) == [0x0A, 0x02, 0x68, 0x69])

        var skdm = WAMessage()
        skdm.senderKeyDistributionMessage.groupID = "g"
        skdm.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data([0xAB])
        #expect(try Self.bytes(skdm) == [0x12, 0x06, 0x0A, 0x01, 0x67, 0x12, 0x01, 0xAB])

        var extended = WAMessage()
        extended.extendedTextMessage.text = "t"
        extended.extendedTextMessage.contextInfo.stanzaID = "s"
        #expect(try Self.bytes(extended) == [0x32, 0x09, 0x0A, 0x01, 0x74, 0x8A, 0x01, 0x03, 0x0A, 0x01, 0x73])

        var revoke = WAMessage()
        revoke.protocolMessage.key.id = "K"
        revoke.protocolMessage.type = 0
        #expect(try Self.bytes(revoke) == [0x62, 0x07, 0x0A, 0x03, 0x1A, 0x01, 0x4B, 0x10, 0x00])

        var dsm = WAMessage()
        dsm.deviceSentMessage.destinationJid = "d"
        dsm.messageContextInfo.messageSecret = Data([0x01])
        // Field 31 → tag 0xFA 0x01; field 35 → tag 0x9A 0x02.
        #expect(try Self.bytes(dsm) == [0xFA, 0x01, 0x03, 0x0A, 0x01, 0x64, 0x9A, 0x02, 0x03, 0x1A, 0x01, 0x01])

        var reaction = WAMessage()
        reaction.reactionMessage.text = "👍"
        #expect(try Self.bytes(reaction).prefix(2) == [0xF2, 0x02])
        var edited = WAMessage()
        edited.editedMessage = Self.wrapped(Self.text("x"))
        #expect(try Self.bytes(edited).prefix(2) == [0xD2, 0x03])
    }

    @Test func conversationAndExtendedTextGiveTheirText() throws {
        let plain = try MessageContent(decoding: Self.bytes(Self.text("hello")))
        #expect(plain.kind == .text)
        #expect(plain.text == "hello")
        #expect(plain.wrappers == [])

        var reply = WAMessage()
        reply.extendedTextMessage.text = "see https://example.com"
        reply.extendedTextMessage.matchedText = "https://example.com"
        reply.extendedTextMessage.contextInfo.stanzaID = "3EB0QUOTED"
        reply.extendedTextMessage.contextInfo.quotedMessage = Self.text("earlier")
        let content = try MessageContent(decoding: Self.bytes(reply))
        #expect(content.kind == .extendedText)
        #expect(content.kind.rawValue == "extended_text")
        #expect(content.text == "see https://example.com")
        #expect(content.message.extendedTextMessage.contextInfo.quotedMessage.conversation == "earlier")
    }

    @Test func ownDeviceMessageIsUnwrappedWithItsDestination() throws {
        var inner = WAMessage()
        inner.ephemeralMessage = Self.wrapped(Self.text("from my phone"))
        var outer = WAMessage()
        outer.deviceSentMessage.destinationJid = "123456789012345@lid"
        outer.deviceSentMessage.message = inner
        outer.messageContextInfo.messageSecret = Data(repeating: 7, count: 32)
        let content = try MessageContent(decoding: Self.bytes(outer))
        #expect(content.kind == .text)
        #expect(content.text == "from my phone")
        #expect(content.wrappers == [.deviceSent, .ephemeral])
        #expect(content.deviceSentDestination == "123456789012345@lid")
        #expect(content.deviceSentChat == JID(user: "123456789012345", server: .lid))
        #expect(content.messageSecret == [UInt8](repeating: 7, count: 32))
        // The outer context info follows the content when the content has none (whatsmeow UnwrapRaw).
        #expect(content.message.messageContextInfo.messageSecret == Data(repeating: 7, count: 32))
    }

    @Test func wrappersComeOffInWhatsmeowsOrder() throws {
        var document = WAMessage()
        document.documentMessage.caption = "report.pdf"
        var withCaption = WAMessage()
        withCaption.documentWithCaptionMessage = Self.wrapped(document)
        var viewOnce = WAMessage()
        viewOnce.viewOnceMessageV2 = Self.wrapped(withCaption)
        var ephemeral = WAMessage()
        ephemeral.ephemeralMessage = Self.wrapped(viewOnce)
        let content = try MessageContent(decoding: Self.bytes(ephemeral))
        #expect(content.kind == .document)
        #expect(content.text == "report.pdf")
        #expect(content.wrappers == [.ephemeral, .viewOnce, .documentWithCaption])

        // One pass in a fixed order: an ephemeral inside a view-once is not opened a second time.
        var inverted = WAMessage()
        inverted.viewOnceMessage = Self.wrapped(ephemeral)
        let once = try MessageContent(decoding: Self.bytes(inverted))
        #expect(once.wrappers == [.viewOnce])
        #expect(once.kind == .unknown)
    }

    @Test func senderKeyDistributionIsReadBesideTheContent() throws {
        var message = Self.text("first group message")
        message.senderKeyDistributionMessage.groupID = "120363012345678901@g.us"
        message.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data([0x33, 0x0A])
        let content = try MessageContent(decoding: Self.bytes(message))
        #expect(content.kind == .text)
        #expect(content.senderKeyDistribution?.groupID == "120363012345678901@g.us")
        #expect(content.senderKeyDistribution?.message == [0x33, 0x0A])

        var carrier = WAMessage()
        carrier.senderKeyDistributionMessage = message.senderKeyDistributionMessage
        #expect(try MessageContent(decoding: Self.bytes(carrier)).kind == .senderKeyDistribution)
    }

    @Test func protocolMessagesReportTheirType() throws {
        var history = WAMessage()
        history.protocolMessage.type = MessageContent.ProtocolType.historySyncNotification.rawValue
        history.protocolMessage.historySyncNotification.syncType = 0
        history.protocolMessage.historySyncNotification.directPath = "/v/t62/abc"
        let content = try MessageContent(decoding: Self.bytes(history))
        #expect(content.kind == .protocol)
        #expect(content.protocolType == .historySyncNotification)
        #expect(content.protocolMessage?.historySyncNotification.directPath == "/v/t62/abc")

        var edit = WAMessage()
        edit.protocolMessage.type = MessageContent.ProtocolType.messageEdit.rawValue
        edit.protocolMessage.key.id = "3EB0OLD"
        edit.protocolMessage.editedMessage = Self.text("fixed")
        var wrappedEdit = WAMessage()
        wrappedEdit.editedMessage = Self.wrapped(edit)
        let edited = try MessageContent(decoding: Self.bytes(wrappedEdit))
        #expect(edited.wrappers == [.edited])
        #expect(edited.kind == .protocol)
        // whatsmeow reads protocol parts before the edit wrapper comes off: edits are not acted on there.
        #expect(edited.protocolType == nil)
        #expect(edited.message.protocolMessage.editedMessage.conversation == "fixed")

        // A type newer than this client is kept as its number.
        var future = WAMessage()
        future.protocolMessage.type = 99
        #expect(try MessageContent(decoding: Self.bytes(future)).protocolType?.rawValue == 99)
    }

    @Test func otherKindsAreNamed() throws {
        var image = WAMessage()
        image.imageMessage.caption = "look"
        var audio = WAMessage()
        audio.audioMessage.ptt = true
        var reaction = WAMessage()
        reaction.reactionMessage.text = "❤️"
        var poll = WAMessage()
        poll.pollCreationMessageV3.name = "Lunch?"
        var vote = WAMessage()
        vote.pollUpdateMessage.senderTimestampMs = 1
        var location = WAMessage()
        location.locationMessage.degreesLatitude = 1.5
        let expected: [(WAMessage, MessageContent.Kind, String?)] = [
            (image, .image, "look"), (audio, .audio, nil), (reaction, .reaction, "❤️"), (poll, .poll, "Lunch?"),
            (vote, .pollVote, nil), (location, .location, nil), (WAMessage(), .unknown, nil),
        ]
        for (message, kind, text) in expected {
            let content = try MessageContent(decoding: Self.bytes(message))
            #expect(content.kind == kind)
            #expect(content.text == text)
        }
    }

    @Test func unknownFieldsNeverFailAndSurviveARoundTrip() throws {
        // A message secret, then eventMessage (75) and a field far beyond any in use (5000). Known fields
        // come first so that the re-serialized bytes (known fields, then unknown ones) are the same.
        var bytes: [UInt8] = [0x9A, 0x02, 0x03, 0x1A, 0x01, 0x09]
        bytes += [0xDA, 0x04, 0x02, 0x0A, 0x00]
        bytes += [0xC0, 0xB8, 0x02, 0x2A]
        let content = try MessageContent(decoding: bytes)
        #expect(content.kind == .unknown)
        #expect(content.raw == bytes)
        #expect(content.messageSecret == [0x09])
        #expect(try content.message.serializedBytes() == bytes)
    }

    @Test func bytesThatAreNotAProtobufAreRefusedWith491() {
        for invalid: [UInt8] in [[0x0A, 0x05, 0x41], [0xFF], [0x0A, 0x02, 0xC3, 0x28], [0x08]] {
            let error = MessagingFixture.failure { () throws(StanzaError) in try MessageContent(decoding: invalid) }
            #expect(error == StanzaError(.invalidProtobuf, at: "Message"))
            #expect(error?.nackCode == .invalidProtobuf)
        }
    }
}
