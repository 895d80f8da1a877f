import Foundation
import Signal
import Synchronization
import Testing
@testable import WAClient
@testable import WASim
import WAWire

@Suite("Simulator messages: real Signal, offline queue, answers, retries, ack deadline")
struct SimDeliveryTests {
    private let start = Conversation.start

    @Test func aDeviceDecryptsContactGroupAndOwnPhoneMessagesAndItsReceiptsClearThem() throws {
        let setup = MessagingWorld()
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 20)
        var device = try client.receivingDevice()
        let jid = try #require(client.machine.device)
        let group = SimGroup(id: "120363000000000001", subject: "Test", account: MessagingWorld.account, members: [MessagingWorld.alice], createdAt: start)
        setup.world.addGroup(group)

        let first = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "hello", now: start)
        let second = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "again", now: start)
        let inGroup = try setup.world.sendGroupText(in: group.id, from: MessagingWorld.alice, text: "to all", now: start)
        let fromPhone = try setup.world.sendFromPhone(of: MessagingWorld.account, to: MessagingWorld.bob, text: "from my phone", now: start)
        #expect(first.devices == [jid])
        try client.deliverInbox()
        let stanzas = client.messages
        #expect(stanzas.map { $0.attribute("id") } == [first.id, second.id, inGroup.id, fromPhone.id])
        #expect(stanzas.allSatisfy { $0.attribute("offline") == nil })

        // 1:1: the contact keeps sending pkmsg (same session, one prekey) until it hears from the device.
        let hello = try device.receive(stanzas[0])
        #expect(hello.text == "hello")
        #expect(hello.types == [.preKeyMessage])
        #expect(hello.message.source.chat == JID(user: try #require(setup.world.contact(phoneNumber: MessagingWorld.alice)).lidUser, server: .lid))
        #expect(hello.message.senderPN == JID(user: MessagingWorld.alice, server: .whatsApp))
        #expect(hello.message.pushName == "Alice")
        let again = try device.receive(stanzas[1])
        #expect(again.text == "again")
        #expect(again.types == [.preKeyMessage])
        #expect(device.consumedPreKeys == [1])

        // Group: the SKDM pairwise, then the skmsg.
        let groupMessage = try device.receive(stanzas[2])
        #expect(groupMessage.types == [.preKeyMessage, .senderKeyMessage])
        #expect(groupMessage.contents[0].kind == .senderKeyDistribution)
        #expect(groupMessage.contents[1].text == "to all")
        #expect(groupMessage.message.source.chat == group.jid)
        #expect(groupMessage.message.participantPN == JID(user: MessagingWorld.alice, server: .whatsApp))

        // The own phone: a DeviceSentMessage to Bob, from device 0 of the account.
        let own = try device.receive(stanzas[3])
        #expect(own.message.source.isFromMe)
        #expect(own.contents[0].wrappers.contains(.deviceSent))
        #expect(own.text == "from my phone")
        let bobLID = JID(user: try #require(setup.world.contact(phoneNumber: MessagingWorld.bob)).lidUser, server: .lid)
        #expect(own.message.source.chat == bobLID)
        #expect(own.contents[0].deviceSentChat == bobLID)
        #expect(device.consumedPreKeys == [1, 2])

        #expect(setup.world.queue(of: jid).count == 4)
        for received in [hello, again, groupMessage, own] {
            try client.send(received.message.deliveryReceipt(active: false))
        }
        #expect(setup.world.queue(of: jid).isEmpty)
        #expect(setup.world.violations.isEmpty)
        #expect(client.timers[.ackDeadline] == nil)
    }

    @Test func theQueueIsReplayedAfterPassiveBetweenThePreviewAndTheCount() throws {
        let setup = MessagingWorld()
        let credentials = try setup.link()
        let sent = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "while away", now: start)
        _ = try setup.world.sendText(from: MessagingWorld.bob, to: MessagingWorld.account, text: "me too", now: start)
        var next = try setup.login(credentials)
        let jid = try #require(next.machine.device)
        try next.send(Node("iq", ["to": .server, "id": "c", "type": "get", "xmlns": "encrypt"], [Node("count")]))
        #expect(next.messages.isEmpty)
        try next.send(Node("iq", ["to": .server, "id": "p", "type": "set", "xmlns": "passive"], [Node("active")]))
        let tail = Array(next.received.suffix(5))
        #expect(tail.map(\.tag) == ["iq", "ib", "message", "message", "ib"])
        let preview = try #require(tail[1].child("offline_preview"))
        #expect(preview.attributes.map(\.key) == ["count", "message", "notification", "receipt", "appdata"])
        #expect([preview.attribute("count"), preview.attribute("message"), preview.attribute("notification")] == ["2", "2", "0"])
        #expect(tail[2].attribute("id") == sent.id)
        #expect(tail[2].attribute("offline") == "0")
        #expect(tail[4].child("offline")?.attribute("count") == "2")
        var device = try next.receivingDevice()
        #expect(try device.receive(tail[2]).text == "while away")
        #expect(try device.receive(tail[3]).text == "me too")
        #expect(setup.world.queue(of: jid).map(\.offers) == [1, 1])
    }

    @Test func anUnansweredMessageIsRedeliveredOnEveryReconnectAndCountedSo() throws {
        let stats = SimStats()
        let setup = MessagingWorld(observer: { stats.record($0) })
        let credentials = try setup.link()
        var client = try setup.login(credentials)
        try client.comeOnline(preKeys: 3)
        let sent = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "x", now: start)
        try client.deliverInbox()
        #expect(client.messages.count == 1)

        for attempt in 1...2 {
            var again = try setup.login(credentials, seed: UInt64(50 + attempt))
            try client.deliverInbox()
            #expect(client.isClosed)
            try again.comeOnline(preKeys: 0)
            let replayed = try #require(again.messages.last)
            #expect(replayed.attribute("id") == sent.id)
            #expect(replayed.attribute("offline") == String(attempt))
            client = again
        }
        let device = try #require(stats.snapshot(includeDevices: true).devices?.first { $0.jid == client.machine.device?.description })
        #expect(device.offered == 3)
        #expect(device.redelivered == 2)
        #expect(device.acked == 0)
        #expect(setup.world.violations.isEmpty)
    }

    @Test func pastTheDeadlineTheDeviceGetsTheAckStreamErrorAndTheStanzaStaysQueued() throws {
        let setup = MessagingWorld()
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 3)
        let sent = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "x", now: start)
        try client.deliverInbox()
        #expect(client.timers[.ackDeadline] == start.addingTimeInterval(60))

        client.now = start.addingTimeInterval(30)
        _ = try setup.world.sendText(from: MessagingWorld.bob, to: MessagingWorld.account, text: "y", now: client.now)
        try client.deliverInbox()
        #expect(client.timers[.ackDeadline] == start.addingTimeInterval(60))
        try client.fire(.ackDeadline)
        let error = try #require(client.last("stream:error"))
        #expect(error.child("ack")?.attribute("id") == sent.id)
        #expect(error.child("ack")?.attribute("class") == "message")
        #expect(client.isClosed)
        #expect(setup.world.violationKinds == [.missingAnswer])
        let jid = try #require(client.machine.device)
        #expect(setup.world.queue(of: jid).count == 2)
        #expect(setup.world.liveConnections.isEmpty)
    }

    @Test func answeringTheOldestMovesTheDeadlineToTheNext() throws {
        let setup = MessagingWorld()
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 3)
        _ = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "x", now: start)
        try client.deliverInbox()
        client.now = start.addingTimeInterval(40)
        _ = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "y", now: client.now)
        try client.deliverInbox()
        var device = try client.receivingDevice()
        let first = try device.receive(client.messages[0])
        try client.send(first.message.deliveryReceipt(active: true))
        #expect(client.timers[.ackDeadline] == start.addingTimeInterval(100))
        client.now = start.addingTimeInterval(99)
        try client.run(client.machine.handle(.timerFired(.ackDeadline, now: client.now)))
        #expect(!client.isClosed)
        #expect(client.timers[.ackDeadline] == start.addingTimeInterval(100))
    }

    @Test func answersThatDoNotCopyTheStanzaAreViolationsAndDoNotClearIt() throws {
        let setup = MessagingWorld()
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 3)
        let jid = try #require(client.machine.device)
        _ = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "x", now: start)
        _ = try setup.world.sendFromPhone(of: MessagingWorld.account, to: MessagingWorld.alice, text: "y", now: start)
        try client.deliverInbox()
        var device = try client.receivingDevice()
        let fromContact = try device.receive(client.messages[0])
        let fromPhone = try device.receive(client.messages[1])

        var wrongTo = fromContact.message.deliveryReceipt(active: true)
        wrongTo.attributes["to"] = .jid(JID(user: MessagingWorld.alice, server: .whatsApp))
        try client.send(wrongTo)
        var asText = fromContact.message.deliveryReceipt(active: true)
        asText.attributes["to"] = .string(fromContact.message.from.description)
        try client.send(asText)
        var extra = fromContact.message.deliveryReceipt(active: true)
        extra.attributes["participant"] = .jid(fromContact.message.from)
        try client.send(extra)
        var wrongType = fromPhone.message.deliveryReceipt(active: true)
        wrongType.attributes["type"] = "inactive"
        try client.send(wrongType)
        var wrongClass = fromContact.message.envelope.ack()
        wrongClass.attributes["class"] = "receipt"
        try client.send(wrongClass)
        try client.send(Node("receipt", ["id": "nope", "to": .jid(fromContact.message.from)]))
        #expect(setup.world.violationKinds == [
            .malformedStanza, .malformedStanza, .malformedStanza, .malformedStanza, .malformedStanza, .unexpectedAnswer,
        ])
        #expect(setup.world.queue(of: jid).count == 2)

        try client.send(fromContact.message.deliveryReceipt(active: true))
        try client.send(fromPhone.message.deliveryReceipt(active: false))
        #expect(setup.world.queue(of: jid).isEmpty)
        #expect(setup.world.violations.count == 6)
    }

    @Test func anAckClearsAMessageButAnErrorAckLeavesItQueuedForTheNextLogin() throws {
        let stats = SimStats()
        let setup = MessagingWorld(observer: { stats.record($0) })
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 3)
        let jid = try #require(client.machine.device)
        let refused = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "x", now: start)
        _ = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "y", now: start)
        try client.deliverInbox()
        let messages = try client.messages.map { try IncomingMessage($0, own: try client.receivingDevice().own) }
        try client.send(messages[0].envelope.ack(error: .invalidProtobuf))
        try client.send(messages[1].envelope.ack())
        #expect(setup.world.queue(of: jid).map { $0.node.attribute("id") } == [refused.id])
        #expect(client.timers[.ackDeadline] == nil)
        #expect(stats.snapshot().stanzasRefused == 1)
        #expect(stats.snapshot().stanzasAcked == 1)
        #expect(setup.world.violations.isEmpty)
    }

    @Test func aRetryReceiptIsAnsweredWithACopyEncryptedAgainWithItsCount() throws {
        let corrupt = CorruptOnce()
        let stats = SimStats()
        let setup = MessagingWorld(observer: { stats.record($0) }, planMessageFault: { _ in corrupt.take() })
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 3)
        let jid = try #require(client.machine.device)
        var device = try client.receivingDevice()

        let sent = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "secret", now: start)
        try client.deliverInbox()
        let broken = try #require(client.messages.last)
        #expect { try device.receive(broken) } throws: { ($0 as? SignalError)?.code == .invalidMAC }
        #expect(device.consumedPreKeys.isEmpty)

        let message = try IncomingMessage(broken, own: device.own)
        let retry = message.retryReceipt(count: 1, bundle: try device.retryBundle(preKeyID: 3), includeKeys: false)
        try client.send(messageOf: [retry, message.envelope.ack()])
        try client.deliverInbox()
        let resend = try #require(client.messages.last)
        #expect(client.messages.count == 2)
        #expect(resend.attribute("id") == sent.id)
        #expect(resend.attribute("from") == broken.attribute("from"))
        #expect(resend.child("enc")?.attribute("count") == "1")
        #expect(resend.child("enc")?.attribute("type") == "pkmsg")
        let received = try device.receive(resend)
        #expect(received.text == "secret")
        #expect(device.consumedPreKeys == [1])
        try client.send(received.message.deliveryReceipt(active: true))
        #expect(setup.world.queue(of: jid).isEmpty)
        #expect(stats.snapshot().retriesAnswered == 1)
        #expect(setup.world.violations.isEmpty)
    }

    @Test func aRetryReceiptWithKeysMakesTheSenderStartANewSessionFromThem() throws {
        let setup = MessagingWorld()
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 3)
        var device = try client.receivingDevice()
        _ = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "one", now: start)
        try client.deliverInbox()
        let first = try device.receive(try #require(client.messages.last))
        try client.send(first.message.deliveryReceipt(active: true))

        // The device lost its session (say, a restore): it asks again with a fresh prekey of its own.
        device.sessions = [:]
        _ = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "two", now: start)
        try client.deliverInbox()
        let second = try IncomingMessage(try #require(client.messages.last), own: device.own)
        try client.send(second.retryReceipt(count: 2, bundle: try device.retryBundle(preKeyID: 77), includeKeys: true))
        try client.send(second.envelope.ack())
        try client.deliverInbox()
        let resend = try #require(client.messages.last)
        #expect(resend.child("enc")?.attribute("count") == "2")
        let pkmsg = try PreKeyWhisperMessage(parsing: try #require(resend.child("enc")?.bytes))
        #expect(pkmsg.oneTimePreKeyID == 77)
        #expect(try device.receive(resend).text == "two")
        #expect(setup.world.violations.isEmpty)
    }

    @Test func aMalformedRetryReceiptIsAViolationAndAsksForNothing() throws {
        let setup = MessagingWorld()
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 3)
        let sent = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "x", now: start)
        try client.deliverInbox()
        let message = try IncomingMessage(try #require(client.messages.last), own: try client.receivingDevice().own)
        var noRegistration = message.retryReceipt(count: 1, bundle: try client.receivingDevice().retryBundle(preKeyID: 5), includeKeys: false)
        noRegistration.content = .nodes(noRegistration.children.filter { $0.tag != "registration" })
        try client.send(noRegistration)
        var otherID = message.retryReceipt(count: 1, bundle: try client.receivingDevice().retryBundle(preKeyID: 5), includeKeys: false)
        otherID.content = .nodes([Node("retry", ["count": "1", "id": "OTHER", "t": "1", "v": "1"])] + otherID.children.dropFirst())
        try client.send(otherID)
        try client.deliverInbox()
        #expect(client.messages.map { $0.attribute("id") } == [sent.id])
        #expect(setup.world.violationKinds == [.malformedStanza, .malformedStanza])
    }

    @Test func everySessionTakesItsOwnPrekeyOnceAndTheLowCountIsNotified() throws {
        let setup = MessagingWorld()
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 6)
        let jid = try #require(client.machine.device)
        var device = try client.receivingDevice()
        _ = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "a", now: start)
        _ = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "b", now: start)
        #expect(setup.world.device(jid)?.availablePreKeys == 5)
        #expect(setup.world.device(jid)?.preKeys.storedIDs == [2, 3, 4, 5, 6])
        try client.deliverInbox()
        #expect(client.last("notification") == nil)

        _ = try setup.world.sendText(from: MessagingWorld.bob, to: MessagingWorld.account, text: "c", now: start)
        _ = try setup.world.sendFromPhone(of: MessagingWorld.account, to: MessagingWorld.bob, text: "d", now: start)
        #expect(setup.world.device(jid)?.preKeys.storedIDs == [4, 5, 6])
        try client.deliverInbox()
        let notifications = client.received.filter { $0.tag == "notification" }
        #expect(notifications.map { $0.child("count")?.attribute("value") } == ["4", "3"])
        for stanza in client.messages {
            _ = try device.receive(stanza)
        }
        #expect(device.consumedPreKeys == [1, 2, 3])
    }

    @Test func aDeviceWithoutPrekeysLeftGetsASessionFromItsSignedPrekeyAlone() throws {
        let setup = MessagingWorld()
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 0)
        _ = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "no prekeys", now: start)
        try client.deliverInbox()
        let pkmsg = try PreKeyWhisperMessage(parsing: try #require(client.messages.last?.child("enc")?.bytes))
        #expect(pkmsg.oneTimePreKeyID == nil)
        var device = try client.receivingDevice()
        #expect(try device.receive(try #require(client.messages.last)).text == "no prekeys")
    }

    @Test func aPrekeyFetchHandsOutEachBundleOnceForLinkedDevicesAndContacts() throws {
        let setup = MessagingWorld()
        var other = try setup.linkedClient(seed: 44)
        try other.comeOnline(preKeys: 3)
        let otherLID = try #require(other.last("success")?.jidAttribute("lid"))
        var client = try setup.linkedClient(seed: 46)
        try client.comeOnline(preKeys: 0)
        let alice = try #require(setup.world.contact(phoneNumber: MessagingWorld.alice))
        let unknown = JID(user: "999", server: .lid)

        func fetch(_ id: String) throws -> [JID: Result<KeyBundle, StanzaError>] {
            var query = PreKeyFetch.query(for: [alice.lid, otherLID, unknown])
            query.attributes["id"] = .string(id)
            try client.send(query)
            let answer = try #require(client.received.last { $0.attribute("id") == id })
            return try PreKeyFetch.parse(answer)
        }
        let first = try fetch("f1")
        let aliceBundle = try #require(try first[alice.lid]?.get())
        #expect(aliceBundle.identityKey == alice.sender.local?.keyPair.publicKey)
        #expect(aliceBundle.preKey == KeyBundle.PreKey(id: 1, publicKey: alice.oneTimePreKey(1).publicKey))
        let otherBundle = try #require(try first[otherLID]?.get())
        #expect(otherBundle.identityKey == other.identity.publicKey)
        #expect(otherBundle.preKey?.id == 1)
        #expect(throws: StanzaError.self) { try first[unknown]?.get() }

        let second = try fetch("f2")
        #expect(try second[alice.lid]?.get().preKey?.id == 2)
        #expect(try second[otherLID]?.get().preKey?.id == 2)
        #expect(setup.world.device(try #require(other.machine.device))?.preKeys.storedIDs == [3])
        #expect(setup.world.contact(phoneNumber: MessagingWorld.alice)?.nextPreKeyID == 3)

        // The bundle starts a session as the gateway will when it writes to the contact.
        var random = SeededRandom(seed: 1)
        let local = try client.receivingDevice().local
        let record = try SessionCipher.initiate(record: SessionRecord(), bundle: PreKeyBundle(
            registrationID: aliceBundle.registrationID, identityKey: aliceBundle.identityKey, signedPreKeyID: aliceBundle.signedPreKey.id,
            signedPreKey: aliceBundle.signedPreKey.publicKey, signedPreKeySignature: aliceBundle.signedPreKey.signature,
            oneTimePreKey: aliceBundle.preKey.map { PreKeyBundle.OneTimePreKey(id: $0.id, publicKey: $0.publicKey) }
        ), local: local, using: &random)
        #expect(record.current != nil)
        #expect(setup.world.violations.isEmpty)
    }

    @Test func aSecondLoginTakesTheDeliveriesAndReplaysWhatTheFirstLeftUnanswered() throws {
        let setup = MessagingWorld()
        var first = try setup.linkedClient()
        try first.comeOnline(preKeys: 3)
        let sent = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "x", now: start)
        try first.deliverInbox()
        var second = try setup.reconnect(first)
        try first.deliverInbox()
        #expect(first.isClosed)
        try second.comeOnline(preKeys: 0)
        #expect(second.messages.map { $0.attribute("id") } == [sent.id])
        let later = try setup.world.sendText(from: MessagingWorld.alice, to: MessagingWorld.account, text: "y", now: start)
        try second.deliverInbox()
        #expect(second.messages.last?.attribute("id") == later.id)
        #expect(setup.world.loggedInConnections(of: try #require(second.machine.device)) == [second.machine.id])
    }
}

/// A message fault that fires once.
final class CorruptOnce: Sendable {
    private let fired = Mutex(false)

    func take() -> Bool {
        fired.withLock { fired in
            defer { fired = true }
            return !fired
        }
    }
}
