import Foundation
import Signal
import SwiftProtobuf
import Synchronization
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// The simulator receives (issue 12 item 6): a scripted linked device sends through the real connection
/// machine and world with WAWire's builders and real Signal, as the gateway's send path does, and the
/// contacts decrypt, count, answer with receipts and ask for retries.
@Suite("Simulator receives what linked devices send")
struct SimReceivingTests {
    /// The account's LID user and a contact, from the world.
    private struct Peers {
        let own: JID
        let alice: SimContact

        init(_ setup: MessagingWorld) throws {
            own = JID(user: try #require(setup.world.account(phoneNumber: MessagingWorld.account)).lidUser, server: .lid)
            alice = try #require(setup.world.contact(phoneNumber: MessagingWorld.alice))
        }
    }

    /// A device online with sessions to Alice's phone and its own phone, from bundles it fetched.
    private func sender(_ setup: MessagingWorld, peers: Peers) throws -> (ScriptedClient, ReceivingDevice) {
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 3)
        var device = try client.receivingDevice()
        let bundles = try client.fetchBundles([peers.alice.lid, peers.own])
        try device.startSession(with: peers.alice.lid, bundle: try #require(bundles[peers.alice.lid]))
        try device.startSession(with: peers.own, bundle: try #require(bundles[peers.own]))
        return (client, device)
    }

    /// `text` to Alice as whatsmeow lays it out: her phone's copy, and the DeviceSentMessage for our phone.
    private func dm(_ text: String, id: String, device: inout ReceivingDevice, peers: Peers) throws -> Node {
        let recipients = [
            try device.encrypt(SimMessaging.text(text), for: peers.alice.lid),
            try device.encrypt(SimMessaging.deviceSent(text, to: peers.alice.lid), for: peers.own),
        ]
        return MessageStanza.direct(
            id: id, to: peers.alice.lid, attributes: MessageAttributes(type: "text"), recipients: recipients,
            deviceIdentity: device.deviceIdentity, peerRecipientPN: peers.alice.jid
        )
    }

    @Test func usyncListsAContactsPhoneAndTheAccountsDevicesWithKeyIndexes() throws {
        let setup = MessagingWorld()
        let peers = try Peers(setup)
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 0)
        let deviceID = try #require(client.machine.device?.device)
        let answer = try client.query(USyncQuery.devices(of: [peers.alice.lid, peers.own, JID(user: "19990000000", server: .whatsApp)], sid: "s1"), id: "u1")
        let users = try USyncQuery.parse(answer)
        #expect(users.map(\.jid) == [peers.alice.lid, peers.own, JID(user: "19990000000", server: .whatsApp)])
        #expect(users[0].devices == [peers.alice.lid])
        #expect(users[1].devices == [peers.own, peers.own.withDevice(deviceID)])
        #expect(users[2].devices.isEmpty)
        let list = try #require(answer.child("usync")?.child("list")?.children[1].child("devices"))
        #expect(list.child("device-list")?.children.map { $0.attribute("key-index") } == [nil, "1"])
        let signed = try WAADVSignedKeyIndexList(serializedBytes: try #require(list.child("key-index-list")?.bytes))
        let keyIndexes = try WAADVKeyIndexList(serializedBytes: signed.details)
        #expect(keyIndexes.validIndexes == [1])
        let account = try #require(setup.world.account(phoneNumber: MessagingWorld.account))
        #expect(CurveSignature.isValid([UInt8](signed.accountSignature), for: [UInt8](signed.details), publicKey: try #require(account.identity).publicKey))
        // The LID lookup answers `<lid val>` for a phone number.
        let lookup = try USyncQuery.parse(try client.query(USyncQuery.lid(of: [peers.alice.jid], sid: "s2"), id: "u2"))
        #expect(lookup.first?.lid == peers.alice.lid)
        #expect(setup.world.violations.isEmpty)
    }

    @Test func aContactDecryptsTheDeviceMessageAndReceiptsItDeliveredThenRead() throws {
        let events = WorldEventLog()
        let setup = MessagingWorld(observer: { events.append($0) })
        let peers = try Peers(setup)
        var (client, device) = try sender(setup, peers: peers)
        let me = try #require(client.machine.device)
        let deviceID = me.device
        let before = client.received.count
        try client.send(try dm("hello Alice", id: "3EB0AAAAAAAAAAAAAAAA01", device: &device, peers: peers))

        let ack = try #require(client.stanzas(after: before).first)
        #expect(ack.tag == "ack")
        #expect(ack.attribute("class") == "message")
        #expect(ack.attribute("id") == "3EB0AAAAAAAAAAAAAAAA01")
        #expect(ack.jidAttribute("from") == peers.alice.lid)
        #expect(ack.attribute("t") == SimConnectionMachine.unix(client.now))
        #expect(ack.attribute("error") == nil)
        // phash over the devices the server expects: ours (phone and this device) and Alice's phone (§8.5).
        #expect(ack.attribute("phash") == DeviceListHash.v2([peers.own, peers.own.withDevice(deviceID), peers.alice.lid]))
        #expect(try ServerAck(ack).isSuccess)

        try client.deliverInbox()
        let receipts = client.stanzas(after: before + 1)
        #expect(receipts.map(\.tag) == ["receipt", "receipt"])
        #expect(receipts[0].jidAttribute("from") == peers.alice.lid)
        #expect(receipts[0].attribute("type") == nil)
        #expect(receipts[0].attribute("id") == "3EB0AAAAAAAAAAAAAAAA01")
        #expect(receipts[1].jidAttribute("from") == peers.own)
        #expect(receipts[1].attribute("type") == "sender")
        #expect(receipts[1].jidAttribute("recipient") == peers.alice.lid)
        let own = OwnAccount(phoneNumber: me, lid: peers.own.withDevice(deviceID))
        #expect(try IncomingReceipt(receipts[0], own: own).progress == .delivered)
        for receipt in receipts {
            try client.ack(receipt)
        }
        #expect(setup.world.queue(of: me).isEmpty)

        // Alice reads it after the world's read delay, driven by the connection's timer.
        let due = try #require(client.timers[SimConnectionMachine.Timer.readReceipts])
        #expect(due == client.now.addingTimeInterval(SimWorld.defaultReadReceiptDelay))
        try client.fire(.readReceipts)
        try client.deliverInbox()
        let read = try #require(client.received.last)
        #expect(read.tag == "receipt")
        #expect(read.attribute("type") == "read")
        #expect(try IncomingReceipt(read, own: own).progress == .read)
        try client.ack(read)
        #expect(setup.world.queue(of: me).isEmpty)
        #expect(setup.world.violations.isEmpty)

        let outcomes = events.events.compactMap { event -> SimReceiveOutcome? in
            if case .messageRead(_, let contact, let outcome, _, _, _) = event, contact == MessagingWorld.alice { outcome } else { nil }
        }
        #expect(outcomes == [.received])
    }

    @Test func aContactThatDoesNotReadMessagesSendsOnlyTheDeliveryReceipt() throws {
        let setup = MessagingWorld()
        var alice = try #require(setup.world.contact(phoneNumber: MessagingWorld.alice))
        alice.readsMessages = false
        setup.world.addContact(alice)
        let peers = try Peers(setup)
        var (client, device) = try sender(setup, peers: peers)
        try client.send(try dm("no blue ticks", id: "3EB0AAAAAAAAAAAAAAAA02", device: &device, peers: peers))
        #expect(client.timers[SimConnectionMachine.Timer.readReceipts] == nil)
        let me = try #require(client.machine.device)
        #expect(setup.world.releaseReadReceipts(now: client.now.addingTimeInterval(3600), nextFor: me) == nil)
    }

    @Test func theSameIdTwiceIsCountedAsADuplicateAndReceiptedAgain() throws {
        let stats = SimStats()
        let setup = MessagingWorld(observer: { stats.record($0) })
        let peers = try Peers(setup)
        var (client, device) = try sender(setup, peers: peers)
        let first = try dm("once", id: "3EB0AAAAAAAAAAAAAAAA03", device: &device, peers: peers)
        try client.send(first)
        // The same bytes again (a resend after a crash): Signal's duplicate. Then the same id re-encrypted.
        try client.send(first)
        try client.send(try dm("once", id: "3EB0AAAAAAAAAAAAAAAA03", device: &device, peers: peers))
        try client.deliverInbox()
        let snapshot = stats.snapshot()
        #expect(snapshot.receivedByContact == [MessagingWorld.alice: 1])
        #expect(snapshot.duplicatesByContact == [MessagingWorld.alice: 2])
        #expect(snapshot.messagesFromDevices == 3)
        let deliveries = client.received.filter { $0.tag == "receipt" && $0.jidAttribute("from") == peers.alice.lid && $0.attribute("type") == nil }
        #expect(deliveries.count == 3)
        #expect(setup.world.violations.isEmpty)
    }

    @Test func theRetryFaultMakesTheContactAskOnceAndTheResendIsAccepted() throws {
        let armed = FaultInjector()
        try armed.arm(ArmedFault(kind: .retryReceipt))
        let stats = SimStats()
        let setup = MessagingWorld(observer: { stats.record($0) }, planSendFault: { armed.planSend(device: $0.description) })
        let peers = try Peers(setup)
        var (client, device) = try sender(setup, peers: peers)
        let own = OwnAccount(phoneNumber: try #require(client.machine.device), lid: nil)
        try client.send(try dm("again please", id: "3EB0AAAAAAAAAAAAAAAA04", device: &device, peers: peers))
        try client.deliverInbox()
        let retry = try #require(client.received.last { $0.attribute("type") == "retry" })
        let request = try #require(try IncomingReceipt(retry, own: own).retry)
        #expect(request.messageID == "3EB0AAAAAAAAAAAAAAAA04")
        #expect(request.count == 1)
        #expect(request.registrationID == peers.alice.registrationID)
        // The contact could not set up the session from the pkmsg, so it sends keys for a new one (§5.1).
        let keys = try #require(request.keys)
        try client.ack(retry)

        // The device answers as whatsmeow does (§5.2): a new session from the keys, one pairwise copy.
        try device.startSession(with: peers.alice.lid, bundle: keys)
        let copy = try device.encrypt(SimMessaging.text("again please"), for: peers.alice.lid)
        let resend = request.resend(
            attributes: MessageAttributes(type: "text"), type: copy.type, ciphertext: copy.ciphertext, deviceIdentity: device.deviceIdentity
        )
        let before = client.received.count
        try client.send(resend)
        let ack = try #require(client.stanzas(after: before).first)
        #expect(ack.tag == "ack")
        #expect(ack.attribute("error") == nil)
        try client.deliverInbox()
        #expect(client.stanzas(after: before + 1).contains { $0.tag == "receipt" && $0.attribute("type") == nil && $0.jidAttribute("from") == peers.alice.lid })

        let snapshot = stats.snapshot()
        #expect(snapshot.retriesRequested == 1)
        #expect(snapshot.receivedByContact == [MessagingWorld.alice: 1])
        #expect(snapshot.duplicatesByContact.isEmpty)
        #expect(setup.world.violations.isEmpty)
    }

    @Test func theRateOverlimitFaultRefusesTheMessageWithError429AndNothingReachesTheContact() throws {
        let armed = FaultInjector()
        try armed.arm(ArmedFault(kind: .rateOverlimit))
        let stats = SimStats()
        let setup = MessagingWorld(observer: { stats.record($0) }, planSendFault: { armed.planSend(device: $0.description) })
        let peers = try Peers(setup)
        var (client, device) = try sender(setup, peers: peers)
        let before = client.received.count
        try client.send(try dm("too fast", id: "3EB0AAAAAAAAAAAAAAAA05", device: &device, peers: peers))
        let ack = try #require(client.stanzas(after: before).first)
        let parsed = try ServerAck(ack)
        #expect(parsed.error == 429)
        #expect(!parsed.isSuccess)
        try client.deliverInbox()
        #expect(client.received.count == before + 1)
        // The next message goes through.
        try client.send(try dm("slower", id: "3EB0AAAAAAAAAAAAAAAA06", device: &device, peers: peers))
        let snapshot = stats.snapshot(includeDevices: true)
        #expect(snapshot.messagesRateLimited == 1)
        #expect(snapshot.receivedByContact == [MessagingWorld.alice: 1])
        let entry = try #require(snapshot.devices?.first { $0.jid == client.machine.device?.description })
        #expect(entry.sent == 1)
        #expect(entry.rateLimited == 1)
    }

    @Test func anUndecryptableCopyIsAViolationAndTheContactAsksForARetry() throws {
        let stats = SimStats()
        let setup = MessagingWorld(observer: { stats.record($0) })
        let peers = try Peers(setup)
        var (client, device) = try sender(setup, peers: peers)
        var node = try dm("broken", id: "3EB0AAAAAAAAAAAAAAAA07", device: &device, peers: peers)
        var participants = try #require(node.child("participants"))
        var target = participants.children[0]
        var enc = target.children[0]
        var bytes = try #require(enc.bytes)
        bytes[bytes.count - 1] ^= 1
        enc.content = .bytes(bytes)
        target.content = .nodes([enc])
        participants.content = .nodes([target, participants.children[1]])
        node.content = .nodes([participants] + node.children.dropFirst())
        try client.send(node)
        try client.deliverInbox()
        #expect(client.received.contains { $0.attribute("type") == "retry" && $0.jidAttribute("from") == peers.alice.lid })
        #expect(setup.world.violations.map(\.kind) == [.malformedStanza])
        #expect(stats.snapshot().undecryptableReceived == 1)
        #expect(stats.snapshot().receivedByContact.isEmpty)
    }

    @Test func theGroupInfoQueryListsTheAccountAndItsMembersOr404Or403() throws {
        let setup = MessagingWorld()
        let peers = try Peers(setup)
        let bob = try #require(setup.world.contact(phoneNumber: MessagingWorld.bob))
        let group = SimGroup(
            id: "120363000000000002", subject: "Team", account: MessagingWorld.account,
            members: [MessagingWorld.alice, MessagingWorld.bob], createdAt: Conversation.start
        )
        setup.world.addGroup(group)
        let foreign = SimGroup(id: "120363000000000003", subject: "Other", account: "15550007777", members: [MessagingWorld.alice],
                               addressing: .pn, createdAt: Conversation.start)
        setup.world.addGroup(foreign)
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 2)

        let answer = try client.query(GroupInfo.query(group.jid), id: "g1")
        #expect(answer.attribute("type") == "result" && answer.jidAttribute("from") == group.jid)
        guard case .found(let info) = try GroupInfo.parse(answer, group: group.jid) else {
            Issue.record("no group")
            return
        }
        #expect(info.addressingMode == .lid)
        #expect(info.participants.map(\.jid) == [peers.own, peers.alice.lid, bob.lid])
        #expect(info.participants.map(\.phoneNumber) == [JID(user: MessagingWorld.account, server: .whatsApp), peers.alice.jid, bob.jid])
        #expect(try GroupInfo.parse(client.query(GroupInfo.query(foreign.jid), id: "g2"), group: foreign.jid) == .notMember)
        let missing = JID(user: "120363999999999999", server: .group)
        #expect(try GroupInfo.parse(client.query(GroupInfo.query(missing), id: "g3"), group: missing) == .notFound)
        #expect(setup.world.violations.isEmpty)
    }

    @Test func groupMembersInstallTheSenderKeyFromTheirCopyAndReadTheSkmsgThenAndLater() throws {
        let stats = SimStats()
        let setup = MessagingWorld(observer: { stats.record($0) })
        let peers = try Peers(setup)
        let bob = try #require(setup.world.contact(phoneNumber: MessagingWorld.bob))
        let group = SimGroup(
            id: "120363000000000001", subject: "Team", account: MessagingWorld.account,
            members: [MessagingWorld.alice, MessagingWorld.bob], createdAt: Conversation.start
        )
        setup.world.addGroup(group)
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 2)
        let me = try #require(client.machine.device)
        var device = try client.receivingDevice()
        let bundles = try client.fetchBundles([peers.alice.lid, bob.lid])
        try device.startSession(with: peers.alice.lid, bundle: try #require(bundles[peers.alice.lid]))
        try device.startSession(with: bob.lid, bundle: try #require(bundles[bob.lid]))

        // The first message: the SKDM pairwise to every member, then the text once as skmsg (§9.2, §9.3).
        var random = SeededRandom(seed: 12)
        let distribution = try GroupCipher.distributionMessage(record: SenderKeyRecord(), using: &random)
        let carrier = SimMessaging.distributionCarrier(distribution.message, group: group.jid)
        let recipients = [try device.encrypt(carrier, for: peers.alice.lid), try device.encrypt(carrier, for: bob.lid)]
        let first = try GroupCipher.encrypt(MessagePadding.pad(SimMessaging.text("hi team"), using: &random), record: distribution.record, using: &random)
        let expectedHash = DeviceListHash.v2([peers.own, peers.own.withDevice(me.device), peers.alice.lid, bob.lid])
        let before = client.received.count
        try client.send(MessageStanza.group(
            id: "3EB0AAAAAAAAAAAAAAAA10", to: group.jid, attributes: MessageAttributes(type: "text"), recipients: recipients,
            senderKeyCiphertext: first.serialized, phash: expectedHash, deviceIdentity: device.deviceIdentity, addressingMode: "lid"
        ))
        let ack = try #require(client.stanzas(after: before).first)
        #expect(ack.attribute("phash") == expectedHash)
        #expect(ack.jidAttribute("from") == group.jid)
        try client.deliverInbox()
        let receipts = client.stanzas(after: before + 1)
        #expect(receipts.map { $0.jidAttribute("participant") } == [peers.alice.lid, bob.lid])
        #expect(receipts.allSatisfy { $0.jidAttribute("from") == group.jid && $0.attribute("type") == nil })
        for receipt in receipts {
            try client.ack(receipt)
        }

        // The next one: every member holds the key, so only the skmsg (Baileys' form).
        let second = try GroupCipher.encrypt(MessagePadding.pad(SimMessaging.text("again"), using: &random), record: first.record, using: &random)
        try client.send(Node("message", ["id": "3EB0AAAAAAAAAAAAAAAA11", "to": .jid(group.jid), "type": "text"], [
            Node("enc", ["v": "2", "type": "skmsg"], bytes: second.serialized),
        ]))
        try client.deliverInbox()
        let snapshot = stats.snapshot()
        #expect(snapshot.receivedByContact == [MessagingWorld.alice: 2, MessagingWorld.bob: 2])
        #expect(setup.world.violations.isEmpty)
        for receipt in client.received.filter({ $0.tag == "receipt" }).dropFirst(2) {
            try client.ack(receipt)
        }
        #expect(setup.world.queue(of: me).isEmpty)
    }

    @Test func aPkmsgWithADeviceIdentityTheAccountDidNotSignIsRefusedByThePhones() throws {
        let stats = SimStats()
        let setup = MessagingWorld(observer: { stats.record($0) })
        let peers = try Peers(setup)
        var (client, device) = try sender(setup, peers: peers)
        var node = try dm("who am I", id: "3EB0AAAAAAAAAAAAAAAA09", device: &device, peers: peers)
        var signed = try WAADVSignedDeviceIdentity(serializedBytes: device.deviceIdentity)
        signed.accountSignature[0] ^= 1
        let forged: [UInt8] = try signed.serializedBytes()
        node.content = .nodes(node.children.map { $0.tag == "device-identity" ? Node("device-identity", bytes: forged) : $0 })
        try client.send(node)
        try client.deliverInbox()
        #expect(setup.world.violations.map(\.kind) == [.badSignature])
        #expect(client.received.contains { $0.attribute("type") == "retry" && $0.jidAttribute("from") == peers.alice.lid })
        #expect(stats.snapshot().receivedByContact.isEmpty)
    }

    @Test func theCopyForAnotherLinkedDeviceIsRelayedAsItsOwnDevicesMessageAndThatDeviceReadsIt() throws {
        let setup = MessagingWorld()
        let peers = try Peers(setup)
        var sibling = try setup.linkedClient(seed: 55)
        try sibling.comeOnline(preKeys: 2)
        let siblingJID = try #require(sibling.machine.device)
        var (client, device) = try sender(setup, peers: peers)
        let me = try #require(client.machine.device)
        let siblingLID = peers.own.withDevice(siblingJID.device)
        try device.startSession(with: siblingLID, bundle: try #require(try client.fetchBundles([siblingLID], id: "fetch-sibling")[siblingLID]))
        let text = "seen on my other device"
        let recipients = [
            try device.encrypt(SimMessaging.text(text), for: peers.alice.lid),
            try device.encrypt(SimMessaging.deviceSent(text, to: peers.alice.lid), for: peers.own),
            try device.encrypt(SimMessaging.deviceSent(text, to: peers.alice.lid), for: siblingLID),
        ]
        try client.send(MessageStanza.direct(
            id: "3EB0AAAAAAAAAAAAAAAA12", to: peers.alice.lid, attributes: MessageAttributes(type: "text"), recipients: recipients,
            deviceIdentity: device.deviceIdentity, peerRecipientPN: peers.alice.jid
        ))
        let before = sibling.received.count
        try sibling.deliverInbox()
        let relayed = try #require(sibling.stanzas(after: before).first { $0.tag == "message" })
        #expect(relayed.jidAttribute("from") == peers.own.withDevice(me.device))
        #expect(relayed.jidAttribute("recipient") == peers.alice.lid)
        #expect(relayed.jidAttribute("peer_recipient_pn") == peers.alice.jid)
        var reader = try sibling.receivingDevice()
        let received = try reader.receive(relayed)
        #expect(received.text == text)
        #expect(received.contents.first?.deviceSentChat == peers.alice.lid)
        try sibling.send(received.message.deliveryReceipt(active: true))
        #expect(setup.world.queue(of: siblingJID).isEmpty)
        #expect(setup.world.violations.isEmpty)
    }

    @Test func aMalformedMessageIsAViolationAnsweredWithError479() throws {
        let setup = MessagingWorld()
        let peers = try Peers(setup)
        var (client, _) = try sender(setup, peers: peers)
        let before = client.received.count
        try client.send(Node("message", ["id": "3EB0AAAAAAAAAAAAAAAA08", "to": .jid(peers.alice.lid), "type": "text"], [
            Node("participants", [Node("to", ["jid": .jid(peers.alice.lid)], [Node("enc", ["v": "2", "type": "pkmsg"], bytes: [1, 2, 3])])]),
        ]))
        let ack = try #require(client.stanzas(after: before).first)
        #expect(ack.attribute("error") == "479")
        #expect(ack.attribute("id") == "3EB0AAAAAAAAAAAAAAAA08")
        #expect(setup.world.violations.first?.detail.contains("device-identity") == true)
    }
}

/// Collects world events across threads.
final class WorldEventLog: Sendable {
    private let storage = Mutex<[SimWorldEvent]>([])

    func append(_ event: SimWorldEvent) {
        storage.withLock { $0.append(event) }
    }

    var events: [SimWorldEvent] {
        storage.withLock { $0 }
    }
}
