import Testing
import WAWire

/// Reading `<message>` stanzas: messaging.md §2.2 attributes, the §2.3 source table, §2.4 handling.
@Suite struct IncomingMessageTests {
    typealias F = MessagingFixture

    @Test func directMessageFromAPeerReadsEveryAttribute() throws {
        let message = try IncomingMessage(F.wire(F.directMessage([F.enc("pkmsg"), Node("unknown-child")])), own: F.own)
        #expect(message.id == "3EB0AABBCCDDEEFF001122")
        #expect(message.from == F.peerLID.withDevice(3))
        #expect(message.timestamp == 1_760_000_000)
        #expect(message.type == "text")
        #expect(message.pushName == "Ann")
        #expect(message.addressingMode == "lid")
        #expect(message.senderPN == F.peerPN)
        #expect(message.source.chat == F.peerLID)
        #expect(message.source.sender == F.peerLID.withDevice(3))
        #expect(!message.source.isFromMe)
        #expect(!message.source.isGroup)
        // sender_pn has no device: the sender's is copied (whatsmeow parseMessageSource).
        #expect(message.source.senderAlt == F.peerPN.withDevice(3))
        #expect(message.source.lidMapping == LIDMapping(F.peerLID, F.peerPN))
        #expect(message.encryptedParts.map(\.type) == [.preKeyMessage])
        #expect(message.encryptedParts[0].version == 2)
        #expect(message.encryptedParts[0].ciphertext == F.ciphertext)
    }

    @Test func phoneNumberAddressedDirectMessageReadsSenderLID() throws {
        let node = Node("message", [
            "from": .jid(F.peerPN.withDevice(2)), "id": "X1", "t": "5", "sender_lid": .jid(F.peerLID),
        ], [F.enc("msg")])
        let message = try IncomingMessage(node, own: F.own)
        #expect(message.source.chat == F.peerPN)
        #expect(message.source.senderAlt == F.peerLID.withDevice(2))
        #expect(!message.needsStoredLID)
        #expect(message.decryptionAddress(storedLID: nil) == F.peerLID.withDevice(2))
    }

    @Test func decryptionAddressPrefersTheLIDThenTheStoredOneThenThePhoneNumber() throws {
        let bare = try IncomingMessage(Node("message", ["from": .jid(F.peerPN.withDevice(4)), "id": "X", "t": "1"], [F.enc("msg")]), own: F.own)
        #expect(bare.needsStoredLID)
        #expect(bare.decryptionAddress(storedLID: F.peerLID) == F.peerLID.withDevice(4))
        #expect(bare.decryptionAddress(storedLID: nil) == F.peerPN.withDevice(4))
        let lidSender = try IncomingMessage(F.directMessage(), own: F.own)
        #expect(!lidSender.needsStoredLID)
        #expect(lidSender.decryptionAddress(storedLID: nil) == F.peerLID.withDevice(3))
        let group = try IncomingMessage(F.groupMessage(), own: F.own)
        #expect(group.decryptionAddress(storedLID: nil) == F.peerLID.withDevice(3))
    }

    @Test func ownDeviceMessageIsFromMeInTheRecipientsChat() throws {
        let node = Node("message", [
            "from": .jid(F.ownLID.withDevice(0)), "recipient": .jid(F.peerLID), "peer_recipient_pn": .jid(F.peerPN),
            "id": "X2", "t": "9", "type": "text",
        ], [F.enc("msg")])
        let message = try IncomingMessage(node, own: F.own)
        #expect(message.source.isFromMe)
        #expect(message.source.chat == F.peerLID)
        #expect(message.source.sender == F.ownLID)
        #expect(message.source.recipientAlt == F.peerPN)
        #expect(message.source.lidMapping == LIDMapping(F.peerLID, F.peerPN))
        // Without a recipient (self-chat, peer messages) the chat is our own account.
        let selfChat = try IncomingMessage(Node("message", ["from": .jid(F.ownPN.withDevice(2)), "id": "X3", "t": "9"], [F.enc("msg")]), own: F.own)
        #expect(selfChat.source.chat == F.ownPN)
        #expect(selfChat.source.isFromMe)
    }

    @Test func hostedSendersAreFoldedToTheirPlainServers() throws {
        let hosted = JID(user: "15559990000", device: 1, server: .hosted)
        let message = try IncomingMessage(Node("message", ["from": .jid(hosted), "id": "H", "t": "1"], [F.enc("msg")]), own: F.own)
        #expect(message.source.sender == JID(user: "15559990000", device: 1, server: .whatsApp))
        #expect(message.source.chat == JID(user: "15559990000", server: .whatsApp))
    }

    @Test func groupMessageSenderIsTheParticipant() throws {
        let message = try IncomingMessage(F.groupMessage(), own: F.own)
        #expect(message.source.isGroup)
        #expect(message.source.chat == F.group)
        #expect(message.source.sender == F.peerLID.withDevice(3))
        #expect(message.source.senderAlt == F.peerPN.withDevice(3))
        #expect(message.participantPN == F.peerPN.withDevice(3))
        #expect(!message.source.isFromMe)

        let ours = Node("message", ["from": .jid(F.group), "participant": .jid(F.ownLID.withDevice(2)), "id": "G", "t": "1"], [F.enc("skmsg")])
        #expect(try IncomingMessage(ours, own: F.own).source.isFromMe)

        let status = Node("message", ["from": .jid(.statusBroadcast), "participant": .jid(F.peerPN.withDevice(1)), "id": "S", "t": "1"], [F.enc("skmsg")])
        let statusMessage = try IncomingMessage(status, own: F.own)
        #expect(statusMessage.source.isGroup)
        #expect(statusMessage.source.chat == .statusBroadcast)
    }

    @Test func pairwisePartsAreDecryptedBeforeSenderKeyParts() throws {
        let message = try IncomingMessage(F.groupMessage([F.enc("skmsg", [1]), F.enc("pkmsg", [2]), F.enc("future", [3]), F.enc("msg", [4])]), own: F.own)
        #expect(message.encryptedParts.map(\.ciphertext) == [[1], [2], [3], [4]])
        guard case .decrypt(let order) = message.handling else {
            Issue.record("expected decrypt, got \(message.handling)")
            return
        }
        #expect(order.map(\.ciphertext) == [[2], [4], [1]])
        #expect(message.hasPairwisePart)
    }

    @Test func senderKeyPartsOutsideGroupsAreSkipped() throws {
        let message = try IncomingMessage(F.directMessage([F.enc("skmsg"), F.enc("msg", [9])]), own: F.own)
        #expect(message.handling == .decrypt([message.encryptedParts[1]]))
    }

    @Test func handlingCoversUnavailableNewsletterAndNacks() throws {
        let unavailable = try IncomingMessage(F.directMessage([Node("unavailable", ["type": "view_once"])]), own: F.own)
        #expect(unavailable.handling == .unavailable(type: "view_once"))
        #expect(try IncomingMessage(F.directMessage([Node("unavailable")]), own: F.own).handling == .unavailable(type: nil))

        let empty = try IncomingMessage(F.directMessage([]), own: F.own)
        guard case .nack(let error) = empty.handling else {
            Issue.record("expected a nack")
            return
        }
        #expect(error.nackCode == .unrecognizedStanza)
        #expect(error.nackCode?.rawValue == 488)

        let secret = try IncomingMessage(F.directMessage([F.enc("msmsg")]), own: F.own)
        guard case .nack(let secretError) = secret.handling else {
            Issue.record("expected a nack")
            return
        }
        #expect(secretError.nackCode?.rawValue == 495)

        let newsletter = JID(user: "120363999", server: .newsletter)
        let plaintext = Node("message", ["from": .jid(newsletter), "id": "N", "t": "1", "server_id": "77"], [Node("plaintext", bytes: [0x0A, 0x01, 0x41])])
        #expect(try IncomingMessage(plaintext, own: F.own).handling == .plaintext([0x0A, 0x01, 0x41]))
    }

    @Test func malformedStanzasAreParsingErrors() throws {
        var noID = F.directMessage()
        noID.attributes["id"] = nil
        var stringFrom = F.directMessage()
        stringFrom.attributes["from"] = .string(F.peerLID.description)
        var groupWithoutParticipant = F.groupMessage()
        groupWithoutParticipant.attributes["participant"] = nil
        var badTime = F.directMessage()
        badTime.attributes["t"] = "12x"
        var textContent = F.directMessage()
        textContent.content = .nodes([Node("enc", ["v": "2", "type": "msg"], content: .string("not bytes"))])
        let tooMany = F.directMessage((0...IncomingMessage.maxEncryptedParts).map { _ in F.enc("msg") })

        let cases: [(Node, StanzaError)] = [
            (noID, StanzaError(.missingAttribute, at: "message.id")),
            (stringFrom, StanzaError(.invalidAttribute, at: "message.from")),
            (groupWithoutParticipant, StanzaError(.missingAttribute, at: "message.participant")),
            (badTime, StanzaError(.invalidAttribute, at: "message.t")),
            (textContent, StanzaError(.invalidContent, at: "enc")),
            (tooMany, StanzaError(.limitExceeded, at: "message/enc")),
            (Node("receipt", ["id": "1"]), StanzaError(.unexpectedTag, at: "receipt")),
        ]
        for (node, expected) in cases {
            let error = F.failure { () throws(StanzaError) in try IncomingMessage(node, own: F.own) }
            #expect(error == expected)
            #expect(error?.nackCode == .parsingError)
        }
    }

    @Test func errorDescriptionNamesThePlaceNotTheValue() {
        var node = F.directMessage()
        node.attributes["from"] = "secret-peer@lid"
        let error = F.failure { () throws(StanzaError) in try IncomingMessage(node, own: F.own) }
        #expect(error?.description == "StanzaError(invalid_attribute at message.from)")
    }

    @Test func retryCountsContinueFromAResendAndStopAtFive() throws {
        let fresh = try IncomingMessage(F.directMessage([F.enc("msg")]), own: F.own)
        #expect(fresh.retryReceiptCount(previouslySent: 0) == 1)
        #expect(fresh.retryReceiptCount(previouslySent: 3) == 4)
        #expect(fresh.retryReceiptCount(previouslySent: 4) == nil)
        let resent = try IncomingMessage(F.directMessage([F.enc("msg", count: "2")]), own: F.own)
        #expect(resent.retryReceiptCount(previouslySent: 0) == 3)
        #expect(resent.retryReceiptCount(previouslySent: 1) == 2)
        #expect(IncomingMessage.retryReceiptIncludesKeys(count: 1, forced: false) == false)
        #expect(IncomingMessage.retryReceiptIncludesKeys(count: 1, forced: true))
        #expect(IncomingMessage.retryReceiptIncludesKeys(count: 2, forced: false))
    }
}
