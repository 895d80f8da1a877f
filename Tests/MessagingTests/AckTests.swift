import Foundation
import Messaging
import PairgateTestSupport
import Signal
import Synchronization
import Testing
import WAClient
import WAWire

/// Stanzas answered without decrypting, and notifications: each gets exactly the ack messaging.md §3
/// asks for, its attributes copied verbatim.
@Suite struct AckTests {
    typealias F = ReceiveFixture
    static let peer = JID(user: "123456789012345", device: 3, server: .lid)

    @Test func newslettersStatusesAndUnavailableMessagesAreAckedWithoutError() async throws {
        var fixture = F()
        let newsletter = Node("message", ["from": .jid(JID(user: "120363", server: .newsletter)), "id": "N1", "t": "1", "server_id": "7"],
                              [Node("plaintext", bytes: [0x0A, 0x01, 0x41])])
        let status = Node("message", ["from": .jid(.statusBroadcast), "participant": .jid(Self.peer), "id": "S1", "t": "1"],
                          [TestContact.enc("skmsg", [1, 2, 3])])
        let unavailable = Node("message", ["from": .jid(Self.peer), "id": "U1", "t": "1"], [Node("unavailable", ["type": "view_once"])])
        for (stanza, type) in [(newsletter, "newsletter"), (status, "status"), (unavailable, "unavailable")] {
            let result = try await fixture.receive(stanza)
            #expect(result.summary == ["ack:message"], "\(type)")
            #expect(result.report.messageType == type)
            #expect(result.report.disposition == .acknowledged)
        }
        let statusAck = try await fixture.receive(status).answers[0].onTheWire
        #expect(statusAck.attributes["participant"] == .jid(Self.peer))
        #expect(statusAck.attributes["to"] == .jid(.statusBroadcast))
        #expect(fixture.store.snapshot.commits == 0)
    }

    @Test func unreadableMessagesAreNackedWithTheirCode() async throws {
        var fixture = F()
        let cases: [(Node, String)] = [
            (Node("message", ["from": .jid(Self.peer), "t": "1"], [TestContact.enc("msg", [1])]), "ack:message!487"),
            (Node("message", ["from": .jid(Self.peer), "id": "X", "t": "1"]), "ack:message!488"),
            (Node("message", ["from": .jid(Self.peer), "id": "X", "t": "1"], [TestContact.enc("msmsg", [1])]), "ack:message!495"),
            (Node("receipt", ["from": .jid(Self.peer), "id": "X"]), "ack:receipt!487"),
        ]
        for (stanza, expected) in cases {
            #expect(try await fixture.receive(stanza).summary == [expected])
        }
    }

    @Test func aPlaintextThatIsNotAProtobufIsNackedAfterItsKeyIsSpent() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        _ = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("ok"))], id: "OK"))
        // Padded correctly, but 0xFF is no protobuf field.
        let stanza = ann.direct([try ann.encrypt(plaintext: [0xFF, 0xFF, 0xFF, 0x01])], id: "BAD")
        let result = try await fixture.receive(stanza)
        #expect(result.summary == ["ack:message!491"])
        // Its key was used: the server's redelivery is a duplicate and gets a plain receipt.
        #expect(try await fixture.receive(stanza).report.disposition == .duplicate)
    }

    @Test func aServerTimeNoStoreCanHoldIsClampedIntoTheYears1970To9999() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        let far = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("a"))], id: "FAR", t: 999_999_999_999_999_999))
        #expect(far.report.message?.sentAt == Date(timeIntervalSince1970: 253_402_300_799))
        let past = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("b"))], id: "PAST", t: -5))
        #expect(past.report.message?.sentAt == Date(timeIntervalSince1970: 0))
    }

    @Test func receiptsAreAckedWithTheirTypeAndAddressingCopied() async throws {
        var fixture = F()
        let read = Node("receipt", [
            "from": .jid(F.group), "participant": .jid(Self.peer), "id": "3EB0R", "type": "read", "t": "5",
        ])
        let ack = try await fixture.receive(read).answers[0].onTheWire
        #expect(ack.attributes["class"] == "receipt")
        #expect(ack.attributes["type"] == "read")
        #expect(ack.attributes["to"] == .jid(F.group))
        #expect(ack.attributes["participant"] == .jid(Self.peer))
        #expect(ack.attributes["id"] == "3EB0R")
        let retry = Node("receipt", ["from": .jid(Self.peer), "id": "3EB0Q", "type": "retry", "t": "5"], [
            Node("retry", ["count": "1", "id": "3EB0Q", "t": "4", "v": "1"]),
            Node("registration", bytes: [0, 0, 0, 1]),
        ])
        #expect(try await fixture.receive(retry).summary == ["ack:receipt"])
    }

    @Test func anIdentityNotificationForgetsBothFormsOfTheUser() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        _ = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("x"))], id: "X"))
        // A stray row under Ann's phone number too, as an old build could have left.
        let pnAddress = SignalAddress(name: "15551234567", device: 4)
        fixture.store.contents.withLock {
            $0.sessions[pnAddress] = [1]
            $0.identities[pnAddress] = [UInt8](repeating: 7, count: 32)
        }
        let notification = Node("notification", ["from": .jid(ann.phoneNumber), "type": "encrypt", "id": "777", "t": "9"], [Node("identity")])
        let result = try await fixture.receive(notification)

        #expect(result.summary == ["ack:notification"])
        let ack = try result.answers[0].onTheWire
        #expect(ack.attributes["type"] == "encrypt")
        #expect(ack.attributes["to"] == .jid(ann.phoneNumber))
        let stored = fixture.store.snapshot
        #expect(stored.sessions.isEmpty)
        #expect(stored.identities.isEmpty)
        #expect(Set(stored.identityChanges.map(\.address.description)) == ["123456789012345_1:0", "15551234567:4"])
        #expect(stored.identityChanges.allSatisfy { $0.newFingerprint == nil })
    }

    @Test func deviceNotificationsAndUnreadableOnesAreAckedPlainly() async throws {
        var fixture = F()
        let devices = Node("notification", ["from": .jid(JID(user: "15551234567", server: .whatsApp)), "type": "devices", "id": "D1"], [
            Node("add", ["device_hash": "2:a"], [Node("device", ["jid": .jid(JID(user: "15551234567", device: 5, server: .whatsApp))])]),
        ])
        #expect(try await fixture.receive(devices).summary == ["ack:notification"])
        let unreadable = Node("notification", ["from": "not-a-jid", "type": "devices", "id": "D2"])
        let ack = try await fixture.receive(unreadable).answers[0].onTheWire
        #expect(ack.attributes["error"] == nil)
        #expect(ack.attributes["to"] == "not-a-jid")
    }
}
