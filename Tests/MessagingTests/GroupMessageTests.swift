import Foundation
import Messaging
import PairgateTestSupport
import Signal
import Testing
import WAClient
import WAWire

/// Group messages: the sender key arrives pairwise (SKDM) and must be installed before the `skmsg`.
@Suite struct GroupMessageTests {
    typealias F = ReceiveFixture

    @Test func anSKDMInTheSameStanzaIsInstalledBeforeTheGroupMessageDecrypts() async throws {
        var fixture = F()
        var bob = F.bob()
        try bob.startSession(with: fixture.credentials)
        let carrier = try bob.encrypt(try bob.distribution(for: F.group))
        let content = try bob.groupEncrypt(TestContact.text("hi group"), group: F.group)
        // The skmsg first in the document: the pairwise part is still decrypted before it (§2.4 step 4).
        let stanza = bob.group(F.group, [content, carrier], id: "G1")
        let result = try await fixture.receive(stanza)

        #expect(result.report.disposition == .stored)
        let row = try #require(result.report.message)
        #expect(row.text == "hi group")
        #expect(row.key == InboxKey(chat: "120363012345678901@g.us", sender: "543210987654321:2@lid", messageID: "G1"))
        // Delivery receipt to the group with the participant copied verbatim.
        #expect(result.summary == ["receipt:inactive"])
        let receipt = try result.answers[0].onTheWire
        #expect(receipt.attributes["to"] == .jid(F.group))
        #expect(receipt.attributes["participant"] == .jid(bob.lidDevice))
        let key = SenderKeyID(group: "120363012345678901@g.us", sender: SignalAddress(name: "543210987654321_1", device: 2))
        #expect(fixture.store.snapshot.senderKeys[key] != nil)
    }

    @Test func laterGroupMessagesNeedOnlyTheSenderKey() async throws {
        var fixture = F()
        var bob = F.bob()
        try bob.startSession(with: fixture.credentials)
        let first = bob.group(F.group, [try bob.encrypt(try bob.distribution(for: F.group)), try bob.groupEncrypt(TestContact.text("1"), group: F.group)], id: "G1")
        _ = try await fixture.receive(first)
        var texts: [String?] = []
        for index in 2...4 {
            let next = bob.group(F.group, [try bob.groupEncrypt(TestContact.text("\(index)"), group: F.group)], id: "G\(index)")
            texts.append(try await fixture.receive(next).report.message?.text)
        }
        #expect(texts == ["2", "3", "4"])
    }

    @Test func aGroupMessageWithoutItsSenderKeyAsksForKeysAtOnce() async throws {
        var fixture = F()
        var bob = F.bob()
        _ = try bob.distribution(for: F.group)
        let stanza = bob.group(F.group, [try bob.groupEncrypt(TestContact.text("lost"), group: F.group)], id: "G9")
        let result = try await fixture.receive(stanza)

        #expect(result.report.disposition == .decryptFailed(reason: "no_sender_key"))
        #expect(result.summary == ["receipt:retry", "ack:message"])
        // No pairwise part came with it, so the first retry already carries <keys> (§5.1).
        let retry = try result.answers[0].onTheWire
        #expect(retry.attributes["participant"] == .jid(bob.lidDevice))
        let key = try #require(retry.child("keys")?.child("key"))
        let id = try #require(key.child("id")?.bytes).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(id == OneTimePreKeys.retryID(sequence: 0))
        #expect(key.child("value")?.bytes == (try OneTimePreKeys.keyPair(seed: fixture.credentials.preKeySeed, id: id)).publicKey)
        #expect(fixture.store.snapshot.retryPreKeys == 1)
        // The ack has no error: a nacked message stays pending on the server (§3.4).
        #expect(result.answers[1].attributes["error"] == nil)
        #expect(fixture.store.snapshot.inbox.isEmpty)
    }
}
