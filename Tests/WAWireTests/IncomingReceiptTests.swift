import Testing
@testable import WAWire

/// Reading `<receipt>` stanzas: messaging.md §4.3 and the retry request of §5.2.
@Suite struct IncomingReceiptTests {
    typealias F = MessagingFixture

    @Test func readReceiptListsEveryIdWithTheSameMeaning() throws {
        let node = Node("receipt", ["from": .jid(F.peerLID.withDevice(2)), "id": "A", "type": "read", "t": "100"], [
            Node("list", [Node("item", ["id": "B"]), Node("item", ["id": "C"]), Node("other", ["id": "X"])]),
        ])
        let receipt = try IncomingReceipt(F.wire(node), own: F.own)
        #expect(receipt.messageIDs == ["A", "B", "C"])
        #expect(receipt.progress == .read)
        #expect(receipt.timestamp == 100)
        #expect(receipt.source.chat == F.peerLID)
        #expect(receipt.source.sender == F.peerLID.withDevice(2))
        #expect(receipt.retry == nil)
        #expect(receipt.grouped.isEmpty)
    }

    @Test func receiptTypesMapToProgress() throws {
        let expected: [String?: IncomingReceipt.Progress?] = [
            nil: .delivered, "inactive": .delivered, "read": .read, "played": .played,
            "read-self": nil, "played-self": nil, "sender": nil, "server-error": nil, "hist_sync": nil, "peer_msg": nil,
        ]
        for (type, progress) in expected {
            var node = Node("receipt", ["from": .jid(F.peerLID), "id": "A", "t": "1"])
            node.attributes["type"] = type.map(AttributeValue.string)
            #expect(try IncomingReceipt(node, own: F.own).progress == progress, "type \(type ?? "none")")
        }
    }

    @Test func receiptFromOurOtherDeviceIsAboutOurChat() throws {
        let node = Node("receipt", ["from": .jid(F.ownLID.withDevice(0)), "recipient": .jid(F.peerLID), "id": "A", "type": "read-self", "t": "1"])
        let receipt = try IncomingReceipt(node, own: F.own)
        #expect(receipt.source.isFromMe)
        #expect(receipt.source.chat == F.peerLID)
        #expect(receipt.recipient == F.peerLID)
    }

    @Test func groupedReceiptHasOneEntryPerMemberDevice() throws {
        let node = Node("receipt", ["from": .jid(F.group), "t": "7"], [
            Node("participants", ["key": "M1"], [
                Node("user", ["jid": .jid(F.peerLID.withDevice(1)), "t": "10"]),
                Node("user", ["jid": "not-a-jid-form", "t": "11"]),
                Node("user", ["jid": .jid(F.peerLID.withDevice(2)), "t": "12"]),
            ]),
            Node("participants", ["key": "M2"], [Node("user", ["jid": .jid(F.peerPN), "t": "13"])]),
        ])
        let receipt = try IncomingReceipt(F.wire(node), own: F.own)
        #expect(receipt.source.sender == nil)
        #expect(receipt.messageIDs.isEmpty)
        #expect(receipt.grouped == [
            .init(messageID: "M1", device: F.peerLID.withDevice(1), timestamp: 10),
            .init(messageID: "M1", device: F.peerLID.withDevice(2), timestamp: 12),
            .init(messageID: "M2", device: F.peerPN, timestamp: 13),
        ])
        #expect(receipt.progress == .delivered)
    }

    @Test func retryReceiptWithoutKeysNamesMessageCountAndRegistration() throws {
        let node = Node("receipt", ["from": .jid(F.peerLID.withDevice(3)), "id": "3EB0", "type": "retry", "t": "50", "edit": "1"], [
            Node("retry", ["count": "1", "id": "3EB0", "t": "40", "v": "1"]),
            Node("registration", bytes: [0, 0, 1, 0]),
        ])
        let retry = try #require(try IncomingReceipt(node, own: F.own).retry)
        #expect(retry.messageID == "3EB0")
        #expect(retry.timestamp == 40)
        #expect(retry.count == 1)
        #expect(retry.registrationID == 256)
        #expect(retry.keys == nil)
        #expect(retry.edit == "1")
        #expect(!retry.isGroup)
    }

    @Test func retryReceiptKeysAreCheckedLikeAPrekeyBundle() throws {
        var user = F.bundleUser(F.peerLID, F.bundle(), wrapped: true)
        let keys = try #require(user.child("keys"))
        var shortIdentity = keys
        shortIdentity.content = .nodes(keys.children.map { $0.tag == "identity" ? Node("identity", bytes: [1, 2, 3]) : $0 })
        user.content = .nodes([user.children[0], shortIdentity])
        let node = Node("receipt", ["from": .jid(F.peerLID.withDevice(3)), "id": "I", "type": "retry", "t": "1"],
                        [Node("retry", ["count": "2", "id": "I", "t": "1"])] + user.children)
        let error = F.failure { () throws(StanzaError) in try IncomingReceipt(node, own: F.own) }
        #expect(error == StanzaError(.invalidContent, at: "identity"))
        #expect(error?.nackCode == .parsingError)
    }

    @Test func malformedReceiptsAreParsingErrors() {
        let cases: [(Node, StanzaError)] = [
            (Node("receipt", ["from": .jid(F.peerLID), "t": "1"]), StanzaError(.missingAttribute, at: "receipt.id")),
            (Node("receipt", ["from": .jid(F.peerLID), "id": "A"]), StanzaError(.missingAttribute, at: "receipt.t")),
            (Node("receipt", ["id": "A", "t": "1"]), StanzaError(.missingAttribute, at: "receipt.from")),
            (Node("receipt", ["from": .jid(F.group), "t": "1"]), StanzaError(.missingChild, at: "receipt/participants")),
            (Node("receipt", ["from": .jid(F.peerLID), "id": "A", "t": "1", "type": "retry"]), StanzaError(.missingChild, at: "receipt/retry")),
            (Node("receipt", ["from": .jid(F.peerLID), "id": "A", "t": "1", "type": "retry"], [Node("retry", ["id": "A", "t": "1", "count": "x"])]),
             StanzaError(.invalidAttribute, at: "retry.count")),
        ]
        for (node, expected) in cases {
            #expect(F.failure { () throws(StanzaError) in try IncomingReceipt(node, own: F.own) } == expected)
        }
    }
}
