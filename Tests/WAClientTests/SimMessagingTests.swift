import Foundation
import Signal
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// The pure parts of the simulator's messaging: `SimMessaging`, the prekey store, the retry receipt
/// reader and the connection machine's delivery, each without a world.
@Suite("Simulator messaging without a world")
struct SimMessagingTests {
    private let start = Conversation.start

    /// A linked device of 15551234567 with the credentials' keys and `preKeys` uploaded one-time prekeys.
    private func linked(_ credentials: DeviceCredentials, device: UInt16 = 2, preKeys: Int) throws -> SimLinkedDevice {
        var linked = SimLinkedDevice(
            phoneNumber: "15551234567", deviceID: device, lidUser: "222222222222222", noisePublicKey: [],
            identityPublicKey: try Curve25519KeyPair(privateKey: credentials.identityKey).publicKey,
            registrationID: credentials.registrationID, keyIndex: 1, linkedAt: start, os: "test"
        )
        let keys = try (0..<preKeys).map { offset in
            let id = UInt32(offset + 1)
            return PreKeyBundle.OneTimePreKey(id: id, publicKey: try OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: id).publicKey)
        }
        linked.recordUpload(keys, signedPreKey: SimSignedPreKey(
            id: credentials.signedPreKeyID, publicKey: try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey,
            signature: credentials.signedPreKeySignature
        ))
        return linked
    }

    private func credentials(_ seed: UInt64, device: UInt16 = 2) -> DeviceCredentials {
        var random = SeededRandom(seed: seed)
        var credentials = DeviceCredentials.generate(using: &random)
        credentials.account = PairedAccount(
            jid: "15551234567:\(device)@s.whatsapp.net", lid: "222222222222222:\(device)@lid", platform: "android",
            businessName: nil, signedIdentity: [], keyIndex: 1
        )
        return credentials
    }

    private func contact(_ phone: String = "15557000001", seed: UInt64 = 3) -> SimContact {
        var random = SeededRandom(seed: seed)
        return SimContact.generate(phoneNumber: phone, pushName: "Alice", using: &random)
    }

    private func outgoing(_ contact: SimContact, text: String, attributes: Node.Attributes? = nil, group: JID? = nil) -> SimMessaging.Outgoing {
        SimMessaging.Outgoing(
            sender: contact.sender,
            attributes: attributes ?? ["from": .jid(contact.jid), "id": "3EB0000000000000000001", "type": "text", "t": "1760000000",
                                       "sender_lid": .jid(contact.lid), "addressing_mode": "pn"],
            content: SimMessaging.text(text), group: group
        )
    }

    @Test func aPhoneNumberAddressedMessageDecryptsUnderTheSendersLID() throws {
        let credentials = credentials(1)
        let device = try linked(credentials, preKeys: 2)
        var devices = [device.jid: device]
        var messaging = SimMessaging()
        var random = SeededRandom(seed: 9)
        let alice = contact()
        let fanout = try messaging.send(
            outgoing(alice, text: "by number"), to: [device.jid], linked: &devices, now: start, random: &random, corrupt: { _ in false }
        )
        let stanza = try #require(fanout.stanzas[device.jid])
        var receiver = try ReceivingDevice(credentials: credentials, lid: device.lid)
        let received = try receiver.receive(stanza.node)
        #expect(received.text == "by number")
        #expect(received.message.decryptionAddress(storedLID: nil) == alice.lid)
        #expect(devices[device.jid]?.preKeys.storedIDs == [2])
        #expect(messaging.queue(of: device.jid) == [stanza])
    }

    @Test func aDeviceWithoutASignedPrekeyIsUnreachableAndTheOthersStillGetTheirCopy() throws {
        let reachable = try linked(credentials(1), preKeys: 1)
        var silent = try linked(credentials(2, device: 3), device: 3, preKeys: 0)
        silent.signedPreKey = nil
        var devices = [reachable.jid: reachable, silent.jid: silent]
        var messaging = SimMessaging()
        var random = SeededRandom(seed: 9)
        let fanout = try messaging.send(
            outgoing(contact(), text: "x"), to: [silent.jid, reachable.jid], linked: &devices, now: start, random: &random, corrupt: { _ in false }
        )
        #expect(fanout.unreachable == [silent.jid])
        #expect(Array(fanout.stanzas.keys) == [reachable.jid])
        #expect(messaging.queue(of: silent.jid).isEmpty)
    }

    @Test func aCorruptedCopyFailsOnItsMACAfterTheDeviceReadIt() throws {
        let credentials = credentials(1)
        let device = try linked(credentials, preKeys: 1)
        var devices = [device.jid: device]
        var messaging = SimMessaging()
        var random = SeededRandom(seed: 9)
        let alice = contact()
        for _ in 0..<2 {
            let fanout = try messaging.send(outgoing(alice, text: "x"), to: [device.jid], linked: &devices, now: start, random: &random, corrupt: { _ in true })
            var receiver = try ReceivingDevice(credentials: credentials, lid: device.lid)
            let node = try #require(fanout.stanzas[device.jid]?.node)
            #expect(throws: Never.self) { try PreKeyWhisperMessage(parsing: try #require(node.child("enc")?.bytes)) }
            #expect { try receiver.receive(node) } throws: { ($0 as? SignalError)?.code == .invalidMAC }
        }
    }

    @Test func forgettingADeviceDropsItsQueueAndEverySessionWithIt() throws {
        let credentials = credentials(1)
        let device = try linked(credentials, preKeys: 3)
        var devices = [device.jid: device]
        var messaging = SimMessaging()
        var random = SeededRandom(seed: 9)
        _ = try messaging.send(outgoing(contact(), text: "x"), to: [device.jid], linked: &devices, now: start, random: &random, corrupt: { _ in false })
        #expect(messaging.sessions.count == 1)
        messaging.forget(device: device.jid)
        #expect(messaging.sessions.isEmpty)
        #expect(messaging.queue(of: device.jid).isEmpty)
        // The companion that takes the number next starts from a fresh bundle.
        _ = try messaging.send(outgoing(contact(), text: "y"), to: [device.jid], linked: &devices, now: start, random: &random, corrupt: { _ in false })
        #expect(devices[device.jid]?.preKeys.storedIDs == [3])
    }

    @Test func retriesPastWhatsmeowsLimitOrForUnknownStanzasAreNotAnswered() throws {
        let credentials = credentials(1)
        let device = try linked(credentials, preKeys: 3)
        var devices = [device.jid: device]
        var messaging = SimMessaging()
        var random = SeededRandom(seed: 9)
        let alice = contact()
        let stanza = try #require(try messaging.send(
            outgoing(alice, text: "x"), to: [device.jid], linked: &devices, now: start, random: &random, corrupt: { _ in false }
        ).stanzas[device.jid])
        let senders = { (lid: JID) in lid == alice.lid ? alice.sender : nil }
        func retry(count: Int) throws -> SimRetryReceipt {
            try SimRetryReceipt(Node("receipt", [
                Node("retry", ["count": .string(String(count)), "id": "3EB0000000000000000001", "t": "1760000000", "v": "1"]),
                Node("registration", bytes: [0, 0, 0, 1]),
            ]))
        }
        #expect(try messaging.resend(
            try retry(count: 10), of: stanza.sequence, device: device.jid, senders: senders, linked: &devices, now: start, random: &random
        ) == nil)
        #expect(try messaging.resend(
            try retry(count: 1), of: 999, device: device.jid, senders: senders, linked: &devices, now: start, random: &random
        ) == nil)
        #expect(try messaging.resend(
            try retry(count: 1), of: stanza.sequence, device: device.jid, senders: { _ in nil }, linked: &devices, now: start, random: &random
        ) == nil)

        // From the second retry on, the sender rebuilds the session from a fresh bundle, once an hour.
        let second = try #require(try messaging.resend(
            try retry(count: 2), of: stanza.sequence, device: device.jid, senders: senders, linked: &devices, now: start, random: &random
        ))
        #expect(devices[device.jid]?.preKeys.storedIDs == [3])
        let third = try #require(try messaging.resend(
            try retry(count: 3), of: stanza.sequence, device: device.jid, senders: senders, linked: &devices, now: start.addingTimeInterval(60), random: &random
        ))
        #expect(devices[device.jid]?.preKeys.storedIDs == [3])
        let baseKeys = try [second, third].map { try PreKeyWhisperMessage(parsing: try #require($0.node.child("enc")?.bytes)).baseKey }
        #expect(baseKeys[0] == baseKeys[1])
        #expect(messaging.queue(of: device.jid).count == 3)
    }

    @Test func aGroupResendCarriesTheCurrentSenderKeyWithTheContentPairwise() throws {
        let credentials = credentials(1)
        let device = try linked(credentials, preKeys: 3)
        var devices = [device.jid: device]
        var messaging = SimMessaging()
        var random = SeededRandom(seed: 9)
        let alice = contact()
        let group = JID(user: "120363000000000001", server: .group)
        let attributes: Node.Attributes = [
            "from": .jid(group), "id": "3EB0000000000000000002", "type": "text", "participant": .jid(alice.lid), "t": "1760000000",
            "addressing_mode": "lid", "participant_pn": .jid(alice.jid),
        ]
        let first = try #require(try messaging.send(
            outgoing(alice, text: "lost", attributes: attributes, group: group), to: [device.jid], linked: &devices, now: start,
            random: &random, corrupt: { _ in false }
        ).stanzas[device.jid])
        let retry = try SimRetryReceipt(Node("receipt", [
            Node("retry", ["count": "1", "id": "3EB0000000000000000002", "t": "1760000000", "v": "1"]),
            Node("registration", bytes: [0, 0, 0, 1]),
        ]))
        let resend = try #require(try messaging.resend(
            retry, of: first.sequence, device: device.jid, senders: { $0 == alice.lid ? alice.sender : nil }, linked: &devices,
            now: start, random: &random
        ))
        #expect(resend.node.attributes == first.node.attributes)
        #expect(resend.node.children.map { $0.attribute("type") } == ["pkmsg"])
        var receiver = try ReceivingDevice(credentials: credentials, lid: device.lid)
        let received = try receiver.receive(resend.node)
        #expect(received.text == "lost")
        #expect(received.contents[0].senderKeyDistribution?.groupID == group.description)
    }

    // MARK: Prekeys

    @Test func thePrekeyStoreHandsOutTheOldestOnceReplacesRepeatedIdsAndIsBounded() throws {
        var store = SimPreKeys()
        store.add([1, 2, 3].map { PreKeyBundle.OneTimePreKey(id: $0, publicKey: [UInt8](repeating: UInt8($0), count: 32)) })
        store.add([PreKeyBundle.OneTimePreKey(id: 2, publicKey: [UInt8](repeating: 9, count: 32))])
        #expect(store.storedIDs == [1, 3, 2])
        #expect(store.takeOldest() == PreKeyBundle.OneTimePreKey(id: 1, publicKey: [UInt8](repeating: 1, count: 32)))
        #expect(store.takeOldest()?.id == 3)
        #expect(store.takeOldest() == PreKeyBundle.OneTimePreKey(id: 2, publicKey: [UInt8](repeating: 9, count: 32)))
        #expect(store.takeOldest() == nil)

        store.add((1...UInt32(SimPreKeys.maximumCount + 10)).map { PreKeyBundle.OneTimePreKey(id: $0, publicKey: [UInt8](repeating: 1, count: 32)) })
        #expect(store.count == SimPreKeys.maximumCount)
        #expect(store.storedIDs.first == 11)

        let decoded = try JSONDecoder().decode(SimPreKeys.self, from: JSONEncoder().encode(store))
        #expect(decoded == store)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(SimPreKeys.self, from: Data(#"{"ids":[1,2],"keys":"AAAA"}"#.utf8))
        }
    }

    @Test func aStateFileWithoutPrekeysStillLoadsItsDevices() throws {
        let device = try linked(credentials(1), preKeys: 2)
        let encoded = try JSONEncoder().encode(device)
        var object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        object["signedPreKey"] = nil
        object["preKeys"] = nil
        let old = try JSONDecoder().decode(SimLinkedDevice.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(old.signedPreKey == nil)
        #expect(old.preKeys.isEmpty)
        #expect(old.uploadedPreKeys == 2)
        #expect(try JSONDecoder().decode(SimLinkedDevice.self, from: encoded) == device)
    }

    // MARK: Retry receipts

    @Test func aRetryReceiptIsReadWithItsKeysAndRefusedWhenIncomplete() throws {
        let base = try ReceivingDevice(credentials: credentials(1), lid: nil)
        let message = try IncomingMessage(Node("message", [
            "from": .jid(JID(user: "1", server: .lid)), "id": "ABC", "t": "17", "type": "text",
        ], [Node("enc", ["v": "2", "type": "msg"], bytes: [1])]), own: base.own)
        let receipt = message.retryReceipt(count: 2, bundle: try base.retryBundle(preKeyID: 7), includeKeys: true)
        let read = try SimRetryReceipt(receipt)
        #expect(read.messageID == "ABC")
        #expect(read.count == 2)
        #expect(read.timestamp == "17")
        #expect(read.registrationID == base.credentials.registrationID)
        #expect(read.keys?.oneTimePreKey?.id == 7)
        #expect(read.keys?.signedPreKeyID == base.credentials.signedPreKeyID)

        let withoutKeys = try SimRetryReceipt(message.retryReceipt(count: 1, bundle: try base.retryBundle(preKeyID: 7), includeKeys: false))
        #expect(withoutKeys.keys == nil)

        for broken in [
            Node("receipt", [Node("registration", bytes: [0, 0, 0, 1])]),
            Node("receipt", [Node("retry", ["count": "0", "id": "A", "t": "1", "v": "1"]), Node("registration", bytes: [0, 0, 0, 1])]),
            Node("receipt", [Node("retry", ["count": "1", "id": "A", "t": "1", "v": "1"]), Node("registration", bytes: [0, 1])]),
            Node("receipt", [
                Node("retry", ["count": "1", "id": "A", "t": "1", "v": "1"]), Node("registration", bytes: [0, 0, 0, 1]),
                Node("keys", [Node("type", bytes: [5]), Node("identity", bytes: [UInt8](repeating: 1, count: 31))]),
            ]),
        ] {
            #expect(throws: SimRetryReceipt.Problem.self) { try SimRetryReceipt(broken) }
        }
    }

    /// Mutated retry receipts and acks, decoded from bytes, through the receipt reader and the answer
    /// checks: nothing crashes, whatever the bytes. It yields now and then: a test holding a thread of
    /// the cooperative pool for seconds starves the in-process HTTP servers other suites run on it.
    @Test func mutatedRetryReceiptsNeverCrashTheReader() async throws {
        let base = try ReceivingDevice(credentials: credentials(1), lid: nil)
        let message = try IncomingMessage(Node("message", [
            "from": .jid(JID(user: "1", server: .lid)), "id": "ABC", "t": "17", "type": "text", "participant": .jid(JID(user: "2", server: .lid)),
        ], [Node("enc", ["v": "2", "type": "msg"], bytes: [1])]), own: base.own)
        let corpus = try [
            message.retryReceipt(count: 2, bundle: try base.retryBundle(preKeyID: 7), includeKeys: true),
            message.retryReceipt(count: 1, bundle: try base.retryBundle(preKeyID: 7), includeKeys: false),
            message.deliveryReceipt(active: false),
            message.envelope.ack(),
        ].map { try NodeEncoder.encode($0) }
        var random = SeededRandom(seed: 123)
        var read = 0
        for round in 0..<100_000 {
            if round.isMultiple(of: 1000) {
                await Task.yield()
            }
            let input = SessionClientFuzzTests.mutate(corpus[Int.random(in: corpus.indices, using: &random)], using: &random)
            guard let node = try? NodeDecoder().decode(frame: input) else {
                continue
            }
            _ = SimConnectionMachine.addressingProblem(node, answering: message.envelope)
            if (try? SimRetryReceipt(node)) != nil {
                read += 1
            }
        }
        #expect(read > 0)
    }

    // MARK: The machine, answered from a script

    /// A logged-in machine whose questions a script answers; `queue` is what `.startDelivery` returns.
    private func online(queue: [SimStanza]) throws -> ScriptedClient {
        let credentials = ScriptedSession.pairedCredentials()
        let linked = SimLinkedDevice(
            phoneNumber: "15551234567", deviceID: 3, lidUser: "777", noisePublicKey: [], identityPublicKey: [],
            registrationID: credentials.registrationID, keyIndex: 1, linkedAt: start, os: "test"
        )
        var client = try ScriptedClient(answering: { question in
            switch question {
            case .login: .login(linked)
            case .availablePreKeys: .availablePreKeys(10)
            case .startDelivery: .queued(queue)
            default: .codePairingOffered(false)
            }
        }, credentials: credentials)
        try client.send(Node("iq", ["to": .server, "id": "c", "type": "get", "xmlns": "encrypt"], [Node("count")]))
        try client.send(Node("iq", ["to": .server, "id": "p", "type": "set", "xmlns": "passive"], [Node("active")]))
        return client
    }

    @Test func theReplayCountsEachTagAndMarksEveryStanzaWithItsPriorOffers() throws {
        let from = JID(user: "555", server: .lid)
        let queue = [
            SimStanza(sequence: 7, node: Node("message", ["from": .jid(from), "id": "M1", "t": "1"]), offers: 0, queuedAt: start),
            SimStanza(sequence: 8, node: Node("notification", ["from": .server, "id": "N1", "type": "devices"]), offers: 2, queuedAt: start),
            SimStanza(sequence: 9, node: Node("message", ["from": .jid(from), "id": "M2", "t": "1"]), offers: 1, queuedAt: start),
        ]
        var client = try online(queue: queue)
        #expect(client.questions.last == .startDelivery(JID(user: "15551234567", device: 3, server: .whatsApp)))
        let replay = Array(client.received.suffix(5))
        let preview = try #require(replay.first?.child("offline_preview"))
        #expect(preview.attributes.map(\.value.description) == ["3", "2", "1", "0", "0"])
        #expect(replay[1...3].map { $0.attribute("offline") } == ["0", "2", "1"])
        #expect(replay.last?.child("offline")?.attribute("count") == "3")
        let offered = client.updates.compactMap { if case .offered(_, let sequences) = $0 { sequences } else { nil } }
        #expect(offered == [[7, 8, 9]])

        // Answers: the notification's ack copies its type; the messages' receipts copy `from` into `to`.
        client.updates = []
        try client.send(Node("ack", ["class": "notification", "id": "N1", "to": .server, "type": "devices"]))
        try client.send(Node("receipt", ["id": "M2", "to": .jid(from)]))
        try client.send(Node("receipt", ["id": "M2", "to": .jid(from)]))
        let answered = client.updates.compactMap { if case .answered(_, let sequence) = $0 { sequence } else { nil } }
        #expect(answered == [8, 9])
        #expect(client.violations.map(\.kind) == [.unexpectedAnswer])
        #expect(client.timers[.ackDeadline] == start.addingTimeInterval(60))
    }

    @Test func aRetryReceiptBecomesARetryUpdateAndLeavesTheStanzaOutstanding() throws {
        let from = JID(user: "555", server: .lid)
        var client = try online(queue: [
            SimStanza(sequence: 4, node: Node("message", ["from": .jid(from), "id": "M1", "t": "1760000000"]), offers: 0, queuedAt: start),
        ])
        try client.send(Node("receipt", ["id": "M1", "to": .jid(from), "type": "retry"], [
            Node("retry", ["count": "1", "id": "M1", "t": "1760000000", "v": "1"]),
            Node("registration", bytes: [0, 0, 1, 2]),
        ]))
        let retries = client.updates.compactMap { if case .retry(_, let sequence, let retry, _) = $0 { (sequence, retry) } else { nil } }
        #expect(retries.map(\.0) == [4])
        #expect(retries.first?.1.registrationID == 258)
        try client.send(Node("ack", ["class": "message", "id": "M1", "to": .jid(from)]))
        #expect(client.updates.contains { if case .answered(_, 4) = $0 { true } else { false } })
        #expect(client.violations.isEmpty)
    }

    @Test func aStanzaArrivingBeforeTheReplayWaitsInTheQueue() throws {
        let credentials = ScriptedSession.pairedCredentials()
        let linked = SimLinkedDevice(
            phoneNumber: "15551234567", deviceID: 3, lidUser: "777", noisePublicKey: [], identityPublicKey: [],
            registrationID: credentials.registrationID, keyIndex: 1, linkedAt: start, os: "test"
        )
        var client = try ScriptedClient(answering: { _ in .login(linked) }, credentials: credentials)
        let before = client.received.count
        try client.run(client.machine.handle(.delivered(
            .stanza(SimStanza(sequence: 1, node: Node("message", ["id": "M"]), offers: 0, queuedAt: start)), now: start
        )))
        #expect(client.received.count == before)
        #expect(client.updates.allSatisfy { if case .offered = $0 { false } else { true } })
    }
}
