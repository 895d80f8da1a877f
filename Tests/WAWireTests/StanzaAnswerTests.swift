import Testing
import WAWire

/// Acks and receipts we send for inbound stanzas: messaging.md §3.2, §4.1, §4.2, §5.1.
@Suite struct StanzaAnswerTests {
    typealias F = MessagingFixture

    /// The encoded bytes of one attribute value, to compare forms on the wire.
    static func wireBytes(_ value: AttributeValue?) throws -> [UInt8] {
        var node = Node("x")
        node.attributes["v"] = value
        return try NodeEncoder.encode(node)
    }

    @Test func ackEchoesIdAndAddressesExactlyAsReceived() throws {
        // A lowercase hex id arrives as raw text: re-encoding must not turn it into an uppercase HEX_8 id
        // (whatsmeow PR #738); a JID-typed `from` stays a JID.
        let inbound = try F.wire(Node("message", [
            "from": .jid(F.group), "participant": .jid(F.peerLID.withDevice(3)), "recipient": .jid(F.ownLID),
            "id": "3eb0abcdef", "type": "text", "t": "1",
        ], [F.enc("skmsg")]))
        let ack = StanzaEnvelope(inbound).ack()
        #expect(ack.tag == "ack")
        #expect(ack.attribute("class") == "message")
        #expect(ack.attributes["id"] == inbound.attributes["id"])
        #expect(ack.attributes["to"] == .jid(F.group))
        #expect(ack.attributes["participant"] == .jid(F.peerLID.withDevice(3)))
        #expect(ack.attributes["recipient"] == .jid(F.ownLID))
        #expect(ack.attributes["type"] == nil)
        #expect(ack.attributes["error"] == nil)
        let decoded = try F.wire(ack)
        #expect(decoded.attribute("id") == "3eb0abcdef")
        #expect(try Self.wireBytes(decoded.attributes["id"]) == Self.wireBytes(inbound.attributes["id"]))
        #expect(decoded.jidAttribute("to") == F.group)
    }

    @Test func ackCopiesTheTypeExceptForMessagesAndCarriesNackCodes() throws {
        let notification = Node("notification", ["from": .server, "id": "1234567", "type": "encrypt", "t": "1"])
        #expect(StanzaEnvelope(notification).ack() == Node("ack", ["class": "notification", "id": "1234567", "to": .server, "type": "encrypt"]))

        let receipt = Node("receipt", ["from": .jid(F.peerLID.withDevice(2)), "id": "3EB0", "type": "read", "t": "1"])
        #expect(StanzaEnvelope(receipt).ack() == Node("ack", ["class": "receipt", "id": "3EB0", "to": .jid(F.peerLID.withDevice(2)), "type": "read"]))

        let call = Node("call", ["from": .jid(F.peerLID.withDevice(3)), "id": "C1", "t": "1"], [Node("offer", ["call-id": "X"])])
        #expect(StanzaEnvelope(call).ack() == Node("ack", ["class": "call", "id": "C1", "to": .jid(F.peerLID.withDevice(3))]))

        let nack = StanzaEnvelope(F.directMessage()).ack(error: .invalidProtobuf)
        #expect(nack.attribute("error") == "491")
        #expect(nack.attributes["type"] == nil)
        #expect(nack.attribute("class") == "message")
    }

    @Test func deliveryReceiptTypeFollowsWhatsmeow() throws {
        let peer = try IncomingMessage(F.directMessage(), own: F.own)
        #expect(peer.deliveryReceipt(active: false) == Node("receipt", [
            "id": "3EB0AABBCCDDEEFF001122", "to": .jid(F.peerLID.withDevice(3)), "type": "inactive",
        ]))
        #expect(peer.deliveryReceipt(active: true).attributes["type"] == nil)

        let group = try IncomingMessage(F.groupMessage(), own: F.own)
        #expect(group.deliveryReceipt(active: true) == Node("receipt", [
            "id": "ABCD0123", "to": .jid(F.group), "participant": .jid(F.peerLID.withDevice(3)),
        ]))

        let ownNode = Node("message", ["from": .jid(F.ownLID.withDevice(2)), "recipient": .jid(F.peerLID), "id": "O", "t": "1"], [F.enc("msg")])
        let own = try IncomingMessage(ownNode, own: F.own)
        #expect(own.deliveryReceipt(active: false) == Node("receipt", [
            "id": "O", "to": .jid(F.ownLID.withDevice(2)), "recipient": .jid(F.peerLID), "type": "sender",
        ]))
        var peerMessage = ownNode
        peerMessage.attributes["type"] = "peer_msg"
        #expect(try IncomingMessage(peerMessage, own: F.own).deliveryReceipt(active: true).attribute("type") == "peer_msg")
    }

    @Test func protocolReceiptsGoToOurAccountWithoutDevice() throws {
        let message = try IncomingMessage(F.directMessage(), own: F.own)
        #expect(message.protocolReceipt(.historySync, ownPhoneNumber: F.ownPN.withDevice(7)) == Node("receipt", [
            "id": "3EB0AABBCCDDEEFF001122", "type": "hist_sync", "to": .jid(F.ownPN),
        ]))
        #expect(message.protocolReceipt(.peerMessage, ownPhoneNumber: F.ownPN).attribute("type") == "peer_msg")
    }

    @Test func firstRetryReceiptCarriesOnlyTheRegistration() throws {
        let message = try IncomingMessage(F.wire(F.directMessage([F.enc("msg")])), own: F.own)
        let receipt = message.retryReceipt(count: 1, bundle: F.bundle(preKey: false, deviceIdentity: nil), includeKeys: false)
        #expect(receipt == Node("receipt", [
            "id": "3EB0AABBCCDDEEFF001122", "to": .jid(F.peerLID.withDevice(3)), "type": "retry",
        ], [
            Node("retry", ["count": "1", "id": "3EB0AABBCCDDEEFF001122", "t": "1760000000", "v": "1"]),
            Node("registration", bytes: [1, 2, 3, 4]),
        ]))
    }

    @Test func retryReceiptWithKeysReadsBackAsTheSameBundle() throws {
        let message = try IncomingMessage(F.groupMessage(), own: F.own)
        let bundle = F.bundle()
        let sent = message.retryReceipt(count: 2, bundle: bundle, includeKeys: true)
        #expect(sent.child("keys")?.children.map(\.tag) == ["type", "identity", "key", "skey", "device-identity"])
        #expect(sent.child("keys")?.child("type")?.bytes == [5])
        #expect(sent.attributes["participant"] == .jid(F.peerLID.withDevice(3)))

        // What the sender sees: the receipt coming from our device.
        var arriving = try F.wire(sent)
        arriving.attributes["to"] = nil
        arriving.attributes["from"] = .jid(F.group)
        arriving.attributes["participant"] = .jid(F.ownLID.withDevice(7))
        arriving.attributes["t"] = "1760000005"
        let parsed = try IncomingReceipt(arriving, own: OwnAccount(phoneNumber: F.peerPN, lid: F.peerLID))
        let retry = try #require(parsed.retry)
        #expect(retry.messageID == "ABCD0123")
        #expect(retry.count == 2)
        #expect(retry.timestamp == 1_760_000_001)
        #expect(retry.registrationID == bundle.registrationID)
        #expect(retry.keys == bundle)
    }

    @Test func retryReceiptForOurPeerMessageIsCategoryPeer() throws {
        let node = Node("message", ["from": .jid(F.ownLID), "id": "P", "t": "3", "type": "peer_msg", "category": "peer"], [F.enc("msg")])
        let receipt = try IncomingMessage(node, own: F.own).retryReceipt(count: 1, bundle: F.bundle(), includeKeys: false)
        #expect(receipt.attribute("category") == "peer")
    }

    @Test func readReceiptsListTheExtraIdsAndNameTheGroupSender() throws {
        let dm = try #require(ReadReceipt.build(ids: ["A"], chat: F.peerLID, sender: F.peerLID.withDevice(3), kind: .read, unixSeconds: 42))
        #expect(dm == Node("receipt", ["id": "A", "type": "read", "to": .jid(F.peerLID), "t": "42"]))

        let group = try #require(ReadReceipt.build(ids: ["A", "B", "C"], chat: F.group, sender: F.peerLID.withDevice(3), kind: .readSelf, unixSeconds: 42))
        #expect(group.attribute("type") == "read-self")
        #expect(group.attributes["participant"] == .jid(F.peerLID))
        #expect(group.child("list")?.children == [Node("item", ["id": "B"]), Node("item", ["id": "C"])])
        #expect(ReadReceipt.build(ids: [], chat: F.group, sender: nil, kind: .played, unixSeconds: 1) == nil)
    }
}
