import Foundation
import Signal
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// Hostile `<message>` and usync stanzas from a linked device, seeded so a failure replays exactly: the
/// simulator's readers return a value or their `Problem`, never trap, and a world fed the damaged
/// messages answers each with an ack and stays consistent.
@Suite struct SimReceivingFuzzTests {
    static let iterations = 100_000

    static let contact = JID(user: "482913005566778", server: .lid)
    static let own = JID(user: "222222222222222", server: .lid)

    static let tags = ["message", "participants", "to", "enc", "device-identity", "usync", "query", "list", "user", "devices", "lid", "iq"]
    static let keys = ["id", "to", "type", "jid", "v", "count", "phash", "sid", "mode", "context", "edit", "device_fanout", "participant"]
    static let strings = ["", "0", "1", "2", "101", "pkmsg", "msg", "skmsg", "text", "3EB0", String(repeating: "x", count: 200)]
    static let jids = [contact, own, own.withDevice(3), JID(user: "15557000001", server: .whatsApp), JID(user: "120363", server: .group), .serverJID]

    static let messageSeeds: [Node] = [
        Node("message", ["id": "3EB0A", "to": .jid(contact), "type": "text"], [
            Node("participants", [
                Node("to", ["jid": .jid(contact)], [Node("enc", ["v": "2", "type": "pkmsg"], bytes: [0x33, 1, 2, 3])]),
                Node("to", ["jid": .jid(own)], [Node("enc", ["v": "2", "type": "msg"], bytes: [0x33, 4, 5])]),
            ]),
            Node("device-identity", bytes: [1, 2, 3]),
        ]),
        Node("message", ["id": "3EB0B", "to": .jid(contact), "type": "text", "t": "1", "device_fanout": "false"], [
            Node("enc", ["v": "2", "type": "msg", "count": "1"], bytes: [0x33, 9]),
        ]),
        Node("message", ["id": "3EB0C", "to": .jid(JID(user: "120363", server: .group)), "type": "text", "phash": "2:x"], [
            Node("participants", [Node("to", ["jid": .jid(contact)], [Node("enc", ["v": "2", "type": "msg"], bytes: [0x33])])]),
            Node("enc", ["v": "2", "type": "skmsg"], bytes: [0x33, 7]),
        ]),
        Node("message", ["id": "3EB0D", "to": .jid(JID(user: "120363", server: .group)), "type": "text"], [
            Node("enc", ["v": "2", "type": "skmsg"], bytes: [0x33, 8]),
        ]),
        Node("message", ["id": "3EB0E", "to": .jid(JID(user: "120363", server: .group)), "participant": .jid(contact), "type": "text", "t": "1"], [
            Node("enc", ["v": "2", "type": "pkmsg", "count": "2"], bytes: [0x33, 9]),
            Node("device-identity", bytes: [1]),
        ]),
    ]

    static let usyncSeeds: [Node] = [
        Node("iq", ["to": .server, "type": "get", "xmlns": "usync", "id": "1"], [
            Node("usync", ["sid": "s", "mode": "query", "last": "true", "index": "0", "context": "message"], [
                Node("query", [Node("devices", ["version": "2"]), Node("lid")]),
                Node("list", [Node("user", ["jid": .jid(contact)]), Node("user", ["jid": .jid(JID(user: "15557000001", server: .whatsApp))])]),
            ]),
        ]),
    ]

    /// A damaged copy of one of `seeds`: through the byte codec when the result still decodes, else as a tree.
    static func input(_ seeds: [Node], _ rng: inout SeededRandom) -> Node {
        let seed = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
        if Int.random(in: 0..<4, using: &rng) == 0, var bytes = try? NodeEncoder.encode(seed), bytes.count > 1 {
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 1..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if let node = try? NodeDecoder().decode(frame: bytes) {
                return node
            }
        }
        var node = seed
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            mutate(&node, depth: Int.random(in: 0...3, using: &rng), &rng)
        }
        return node
    }

    /// One structural change at a random node `depth` levels down (or the deepest reached).
    static func mutate(_ node: inout Node, depth: Int, _ rng: inout SeededRandom) {
        var children = node.children
        if depth > 0, !children.isEmpty {
            let index = Int.random(in: 0..<children.count, using: &rng)
            mutate(&children[index], depth: depth - 1, &rng)
            node.content = .nodes(children)
            return
        }
        switch Int.random(in: 0..<9, using: &rng) {
        case 0:
            if let attribute = node.attributes.randomElement(using: &rng) {
                node.attributes[attribute.key] = nil
            }
        case 1:
            node.attributes[keys.randomElement(using: &rng)!] = .string(strings.randomElement(using: &rng)!)
        case 2:
            node.attributes[keys.randomElement(using: &rng)!] = .jid(jids.randomElement(using: &rng)!)
        case 3 where !children.isEmpty:
            children.remove(at: Int.random(in: 0..<children.count, using: &rng))
            node.content = .nodes(children)
        case 4 where !children.isEmpty:
            children.append(contentsOf: Array(repeating: children.randomElement(using: &rng)!, count: Int.random(in: 1...40, using: &rng)))
            node.content = .nodes(children)
        case 5:
            let lengths = [0, 1, 3, 32, 33, 64, 5000]
            node.content = .bytes((0..<lengths.randomElement(using: &rng)!).map { _ in UInt8.random(in: 0...255, using: &rng) })
        case 6:
            node.content = Bool.random(using: &rng) ? .string(strings.randomElement(using: &rng)!) : .none
        case 7:
            node.content = .nodes(children + [Node(tags.randomElement(using: &rng)!)])
        default:
            node.tag = tags.randomElement(using: &rng)!
        }
    }

    @Test func theDeviceMessageReaderSurvivesHostileStanzas() async {
        var rng = SeededRandom(seed: 0x51A0_3E55)
        var outcomes: [String: Int] = [:]
        for step in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            do {
                let message = try SimDeviceMessage(Self.input(Self.messageSeeds, &rng))
                outcomes[message.retryCount != nil ? "resend" : message.copies.isEmpty ? "sender_key_only" : "fanout", default: 0] += 1
                if (message.copies.isEmpty && message.senderKeyMessage == nil) || message.copies.count > SimDeviceMessage.maximumCopies {
                    Issue.record("a message with \(message.copies.count) copies was accepted")
                }
            } catch {
                outcomes["problem", default: 0] += 1
            }
        }
        for reached in ["fanout", "resend", "sender_key_only", "problem"] {
            #expect(outcomes[reached, default: 0] > 0, "never reached \(reached): \(outcomes)")
        }
    }

    @Test func theUSyncReaderSurvivesHostileQueries() async {
        var rng = SeededRandom(seed: 0x05EC_0001)
        var outcomes: [String: Int] = [:]
        for step in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            do {
                let request = try SimConnectionMachine.USyncRequest(Self.input(Self.usyncSeeds, &rng))
                outcomes["accepted", default: 0] += 1
                if request.users.isEmpty || !(request.wantsDevices || request.wantsLID) {
                    Issue.record("an empty usync query was accepted")
                }
            } catch {
                outcomes["problem", default: 0] += 1
            }
        }
        for reached in ["accepted", "problem"] {
            #expect(outcomes[reached, default: 0] > 0, "never reached \(reached): \(outcomes)")
        }
    }

    @Test func aWorldFedDamagedRealMessagesAnswersEachWithAnAckAndKeepsReceiving() async throws {
        let stats = SimStats()
        let setup = MessagingWorld(observer: { stats.record($0) })
        var client = try setup.linkedClient()
        try client.comeOnline(preKeys: 3)
        let me = try #require(client.machine.device)
        var device = try client.receivingDevice()
        let alice = try #require(setup.world.contact(phoneNumber: MessagingWorld.alice))
        let own = JID(user: try #require(setup.world.account(phoneNumber: MessagingWorld.account)).lidUser, server: .lid)
        let bundles = try client.fetchBundles([alice.lid, own])
        try device.startSession(with: alice.lid, bundle: try #require(bundles[alice.lid]))
        try device.startSession(with: own, bundle: try #require(bundles[own]))
        let seed = MessageStanza.direct(
            id: "3EB0FFFFFFFFFFFFFFFF01", to: alice.lid, attributes: MessageAttributes(type: "text"),
            recipients: [
                try device.encrypt(SimMessaging.text("seed"), for: alice.lid),
                try device.encrypt(SimMessaging.deviceSent("seed", to: alice.lid), for: own),
            ],
            deviceIdentity: device.deviceIdentity
        )
        var rng = SeededRandom(seed: 0x0F0F_5EED)
        var outcomes: [String: Int] = [:]
        // Each input runs whole X3DH decryptions and two signature checks: the readers above take the
        // 100,000 cheap inputs, this the slow path end to end.
        for step in 0..<1_000 {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 16 == 0 { await Task.yield() }
            var node = seed
            if Bool.random(using: &rng) {
                // Damage one ciphertext: the phones must fail to decrypt it, not trap.
                var participants = node.children[0]
                var targets = participants.children
                let index = Int.random(in: 0..<targets.count, using: &rng)
                var enc = targets[index].children[0]
                var bytes = enc.bytes ?? []
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                enc.content = .bytes(bytes)
                targets[index].content = .nodes([enc])
                participants.content = .nodes(targets)
                node.content = .nodes([participants] + node.children.dropFirst())
            } else {
                node = Self.input([seed], &rng)
            }
            let answer = setup.world.receive(node, from: me, connection: SimConnectionID(1), now: Conversation.start)
            let ack = try #require(answer.ack, "no fault withholds it")
            #expect(ack.tag == "ack" && ack.attribute("class") == "message")
            outcomes[ack.attribute("error") ?? "accepted", default: 0] += 1
        }
        #expect(outcomes["accepted", default: 0] > 0 && outcomes["479", default: 0] > 0, "\(outcomes)")
        // The sessions survived: a good message still reads.
        let before = stats.snapshot().receivedByContact[MessagingWorld.alice, default: 0]
        let good = MessageStanza.direct(
            id: "3EB0FFFFFFFFFFFFFFFF02", to: alice.lid, attributes: MessageAttributes(type: "text"),
            recipients: [try device.encrypt(SimMessaging.text("still here"), for: alice.lid)], deviceIdentity: device.deviceIdentity
        )
        _ = setup.world.receive(good, from: me, connection: SimConnectionID(1), now: Conversation.start)
        #expect(stats.snapshot().receivedByContact[MessagingWorld.alice] == before + 1)
    }
}
