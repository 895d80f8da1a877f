import Foundation
import Messaging
import PairgateTestSupport
import Signal
import SwiftProtobuf
import Testing
import WAClient
import WAWire

/// 1:1 messages from a real Signal session: the first `pkmsg`, the `msg`s after it, replays, and what
/// is committed before the receipt.
@Suite struct DirectMessageTests {
    typealias F = ReceiveFixture

    @Test func aFirstPrekeyMessageIsStoredWithItsSessionAndAnsweredByAnInactiveReceipt() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials, oneTimePreKeyID: 5)
        let stanza = ann.direct([try ann.encrypt(TestContact.text("hello"))], id: "3EB0AAAA0001")
        let result = try await fixture.receive(stanza)

        #expect(result.report.disposition == .stored)
        #expect(result.report.messageType == "text")
        let row = try #require(result.report.message)
        #expect(row.key == InboxKey(chat: "123456789012345@lid", sender: "123456789012345@lid", messageID: "3EB0AAAA0001"))
        #expect(row.text == "hello")
        #expect(row.fromMe == false)
        #expect(row.sentAt == Date(timeIntervalSince1970: 1_760_000_000))
        #expect(try WAMessage(serializedBytes: row.raw).conversation == "hello")

        // The receipt copies id and from verbatim (from stays a JID on the wire), type inactive.
        #expect(result.summary == ["receipt:inactive"])
        let receipt = try result.answers[0].onTheWire
        #expect(receipt.attributes["id"] == "3EB0AAAA0001")
        #expect(receipt.attributes["to"] == .jid(ann.lidDevice))
        #expect(receipt.attributes["participant"] == nil)

        let stored = fixture.store.snapshot
        // Signal state is keyed by the LID address (messaging.md §1.3), the identity trusted on first use.
        let address = SignalAddress(name: "123456789012345_1", device: 0)
        #expect(stored.sessions[address] != nil)
        #expect(stored.identities[address] == ann.identity.keyPair.publicKey)
        #expect(stored.identityChanges.isEmpty)
        #expect(stored.consumedPreKeys == [5])
        #expect(stored.lidByPhoneNumber == ["15551234567": "123456789012345"])
        #expect(stored.commits == 1)
    }

    @Test func laterMessagesDecryptWithTheStoredSessionInOrder() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        var texts: [String?] = []
        for index in 0..<4 {
            let stanza = ann.direct([try ann.encrypt(TestContact.text("m\(index)"))], id: "ID\(index)")
            texts.append(try await fixture.receive(stanza).report.message?.text)
        }
        #expect(texts == ["m0", "m1", "m2", "m3"])
        #expect(fixture.store.snapshot.inbox.count == 4)
    }

    @Test func onceTheContactHeardFromUsItsMsgsDecryptWithTheTurnedRatchet() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        _ = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("first"))], id: "1"))
        // Our answer, from the record the store holds, makes Ann's next message a plain `msg` on a new ratchet key.
        let ours = try SessionRecord(serialized: try #require(fixture.store.snapshot.sessions[SignalAddress(ann.lidDevice)]))
        var random = SeededRandom(seed: 4)
        _ = try ann.read(try SessionCipher.encrypt(MessagePadding.pad([0x0A, 0x00], using: &random), record: ours).serialized)
        let next = try ann.encrypt(TestContact.text("second"))
        #expect(next.attribute("type") == "msg")
        #expect(try await fixture.receive(ann.direct([next], id: "2")).report.message?.text == "second")
    }

    @Test func aRedeliveredStoredMessageGetsOnlyItsReceiptAgain() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        let stanza = ann.direct([try ann.encrypt(TestContact.text("once"))], id: "REPLAY")
        let first = try await fixture.receive(stanza)
        let commits = fixture.store.snapshot.commits
        let second = try await fixture.receive(stanza)

        #expect(second.report.disposition == .duplicate)
        #expect(second.answers == first.answers)
        #expect(fixture.store.snapshot.inbox.count == 1)
        // Nothing to write: the mapping is known, nothing was decrypted.
        #expect(fixture.store.snapshot.commits == commits)
    }

    @Test func aReplayWhoseKeysWereUsedButWasNeverStoredIsADuplicateNotAFailure() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        let stanza = ann.direct([try ann.encrypt(TestContact.text("x"))], id: "USED")
        _ = try await fixture.receive(stanza)
        // The same ciphertext under another id: the inbox does not know it, Signal says "duplicate".
        var copy = stanza
        copy.attributes["id"] = "OTHER"
        let result = try await fixture.receive(copy)
        #expect(result.report.disposition == .duplicate)
        #expect(result.summary == ["receipt:inactive"])
        #expect(fixture.store.snapshot.inbox.count == 1)
    }

    @Test func aOneTimePrekeyIsConsumedOnce() async throws {
        var fixture = F()
        var ann = F.ann()
        var bob = F.bob()
        try ann.startSession(with: fixture.credentials, oneTimePreKeyID: 9)
        try bob.startSession(with: fixture.credentials, oneTimePreKeyID: 9)
        _ = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("a"))], id: "A1"))
        let second = try await fixture.receive(bob.direct([try bob.encrypt(TestContact.text("b"))], id: "B1"))
        #expect(second.report.disposition == .decryptFailed(reason: "unknown_prekey"))
        #expect(second.summary == ["receipt:retry", "ack:message"])
        #expect(fixture.store.snapshot.inbox.count == 1)
    }

    @Test func aPhoneNumberAddressedMessageUsesTheStoredLIDSession() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        _ = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("via lid"))], id: "L1"))
        // Now without any LID in the stanza: the stored mapping picks the LID session (§2.4 step 2).
        let result = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("via pn"))], id: "P1", addressing: .phoneNumber(withLID: false)))
        #expect(result.report.message?.text == "via pn")
        #expect(result.report.message?.key.sender == "15551234567@s.whatsapp.net")
        #expect(fixture.store.snapshot.sessions.keys.map(\.name) == ["123456789012345_1"])
    }

    @Test func firstSightOfAMappingMovesPhoneNumberStateToTheLID() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        // Before the mapping is known, Ann's session lives under her phone number.
        _ = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("pn"))], id: "P1", addressing: .phoneNumber(withLID: false)))
        #expect(fixture.store.snapshot.sessions.keys.map(\.description) == ["15551234567:0"])
        let result = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("lid"))], id: "L1"))
        #expect(result.report.message?.text == "lid")
        let stored = fixture.store.snapshot
        #expect(stored.sessions.keys.map(\.description) == ["123456789012345_1:0"])
        #expect(stored.identities.keys.map(\.description) == ["123456789012345_1:0"])
        #expect(stored.lidByPhoneNumber == ["15551234567": "123456789012345"])
    }

    @Test func aReinstalledPeerIsTrustedAgainAndTheChangeRecorded() async throws {
        var fixture = F()
        var ann = F.ann()
        try ann.startSession(with: fixture.credentials)
        _ = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("old"))], id: "O1"))
        let oldKey = ann.identity.keyPair.publicKey
        ann.reinstall()
        try ann.startSession(with: fixture.credentials, oneTimePreKeyID: 2)
        let result = try await fixture.receive(ann.direct([try ann.encrypt(TestContact.text("new"))], id: "N1"))
        #expect(result.report.message?.text == "new")
        let change = try #require(fixture.store.snapshot.identityChanges.first)
        #expect(change.address.description == "123456789012345_1:0")
        #expect(change.previousFingerprint == IdentityFingerprint.of(oldKey))
        #expect(change.newFingerprint == IdentityFingerprint.of(ann.identity.keyPair.publicKey))
        #expect(change.previousFingerprint.count == 32)
        #expect(fixture.store.snapshot.identities[change.address] == ann.identity.keyPair.publicKey)
    }

    @Test func aMessageFromOurPhoneIsUnwrappedIntoItsChatWithASenderReceipt() async throws {
        var fixture = F()
        var phone = F.ownPhone()
        try phone.startSession(with: fixture.credentials)
        let peer = JID(user: "123456789012345", server: .lid)
        let stanza = Node("message", [
            "from": .jid(phone.lidDevice), "recipient": .jid(peer), "peer_recipient_pn": .jid(JID(user: "15551234567", server: .whatsApp)),
            "id": "3EB0OWN", "t": "1760000100", "type": "text",
        ], [try phone.encrypt(TestContact.sentByPhone("sent from my phone", to: peer))])
        let result = try await fixture.receive(stanza)

        let row = try #require(result.report.message)
        #expect(row.fromMe)
        #expect(row.text == "sent from my phone")
        #expect(row.key.chat == "123456789012345@lid")
        #expect(row.key.sender == "900000000000001@lid")
        #expect(result.summary == ["receipt:sender"])
        let receipt = try result.answers[0].onTheWire
        #expect(receipt.attributes["to"] == .jid(phone.lidDevice))
        #expect(receipt.attributes["recipient"] == .jid(peer))
        // The chat's mapping from peer_recipient_pn is stored too.
        #expect(fixture.store.snapshot.lidByPhoneNumber["15551234567"] == "123456789012345")
    }

    @Test func aHistorySyncNotificationIsStoredAndGetsTheHistSyncReceipt() async throws {
        var fixture = F()
        var phone = F.ownPhone()
        try phone.startSession(with: fixture.credentials)
        let stanza = Node("message", [
            "from": .jid(phone.lidDevice), "id": "HS1", "t": "1760000200", "type": "text", "category": "peer",
        ], [try phone.encrypt(TestContact.historySyncNotification())])
        let result = try await fixture.receive(stanza)
        #expect(result.report.messageType == "history_sync_notification")
        #expect(result.summary == ["receipt:sender", "receipt:hist_sync", "receipt:peer_msg"])
        let histSync = try result.answers[1].onTheWire
        #expect(histSync.attributes["to"] == .jid(F.ownPhoneNumberJID))
        #expect(histSync.attributes["id"] == "HS1")
        // A redelivery gets the same three receipts from the stored type.
        #expect(try await fixture.receive(stanza).summary == result.summary)
    }
}
