import Foundation
import SwiftProtobuf
import Testing
@testable import WAWire

/// Hostile stanzas for every messaging parser, seeded so a failure replays exactly. Each input is either
/// a real stanza damaged as bytes and decoded (when that still decodes) or damaged as a node tree (wrong
/// attribute forms, missing or extra children, wrong content). Every parser must return a value or
/// throw its typed error, never trap; the reached error codes prove the deeper paths ran.
@Suite struct MessagingFuzzTests {
    typealias F = MessagingFixture
    static let iterations = 100_000

    static let tags = [
        "enc", "list", "item", "participants", "user", "retry", "registration", "keys", "identity", "skey", "key",
        "id", "value", "signature", "device", "devices", "device-list", "lid", "error", "count", "add", "remove",
        "update", "unavailable", "plaintext", "usync", "type", "device-identity", "message", "receipt",
    ]
    static let keys = [
        "id", "from", "participant", "recipient", "t", "type", "count", "v", "jid", "key", "val", "value", "addressing_mode",
        "sender_pn", "sender_lid", "participant_pn", "participant_lid", "peer_recipient_pn", "edit", "is_hosted", "dhash",
        "device_hash", "class", "error", "phash", "lid", "code",
    ]
    static let strings = ["", "1", "-7", "retry", "read", "lid", "pkmsg", "skmsg", "msmsg", "true", "x", "999999999999999999999", "2:coLX1CO6"]
    static let jids = [
        F.peerLID, F.peerLID.withDevice(3), F.peerPN, F.ownLID, F.ownPN.withDevice(2), F.group, .statusBroadcast, .serverJID,
        JID(user: "1", device: 9, server: .hostedLID), JID(user: "120363", server: .newsletter), JID(server: ""),
    ]

    static let messageSeeds: [Node] = [
        F.directMessage(), F.groupMessage(), F.directMessage([F.enc("msg", count: "3"), F.enc("skmsg")]),
        F.directMessage([Node("unavailable", ["type": "view_once"])]),
        Node("message", ["from": .jid(F.ownLID), "recipient": .jid(F.peerLID), "peer_recipient_pn": .jid(F.peerPN), "id": "O", "t": "1"], [F.enc("msg")]),
        Node("message", ["from": .jid(JID(user: "120363", server: .newsletter)), "id": "N", "t": "1"], [Node("plaintext", bytes: [0x0A, 0x00])]),
    ]

    static let receiptSeeds: [Node] = [
        Node("receipt", ["from": .jid(F.peerLID.withDevice(2)), "id": "A", "type": "read", "t": "100"], [Node("list", [Node("item", ["id": "B"])])]),
        Node("receipt", ["from": .jid(F.group), "t": "7"], [
            Node("participants", ["key": "M1"], [Node("user", ["jid": .jid(F.peerLID.withDevice(1)), "t": "10"])]),
        ]),
        Node("receipt", ["from": .jid(F.peerLID.withDevice(3)), "id": "R", "type": "retry", "t": "1"],
             [Node("retry", ["count": "2", "id": "R", "t": "1", "v": "1"])] + F.bundleUser(F.peerLID, F.bundle(), wrapped: true).children),
    ]

    static let notificationSeeds: [Node] = [
        Node("notification", ["from": .server, "type": "encrypt", "id": "1", "t": "9"], [Node("count", ["value": "3"])]),
        Node("notification", ["from": .jid(F.peerLID), "type": "encrypt", "id": "2"], [Node("identity")]),
        Node("notification", ["from": .jid(F.peerPN), "lid": .jid(F.peerLID), "type": "devices", "id": "4"], [
            Node("add", ["device_hash": "2:a"], [Node("device", ["jid": .jid(F.peerPN.withDevice(5)), "lid": .jid(F.peerLID.withDevice(5))])]),
            Node("remove", ["device_hash": "2:b"], [Node("device", ["jid": .jid(F.peerPN.withDevice(2))])]),
        ]),
        Node("notification", ["from": .jid(F.ownPN), "type": "account_sync", "id": "5"], [
            Node("devices", ["dhash": "2:c"], [Node("device", ["jid": .jid(F.ownPN)])]),
        ]),
    ]

    static let answerSeeds: [Node] = [
        Node("iq", ["type": "result", "id": "9"], [Node("list", [
            F.bundleUser(F.peerLID.withDevice(3), F.bundle(deviceIdentity: nil)),
            F.bundleUser(F.peerLID, F.bundle(preKey: false, deviceIdentity: nil), wrapped: true),
            Node("user", ["jid": .jid(F.peerPN)], [Node("error", ["code": "404"])]),
        ])]),
        Node("iq", ["type": "result"], [Node("usync", [Node("list", [
            Node("user", ["jid": .jid(F.peerLID)], [Node("devices", [Node("device-list", [
                Node("device", ["id": "0"]), Node("device", ["id": "7", "is_hosted": "true"]),
            ])])]),
            Node("user", ["jid": .jid(F.peerPN)], [Node("lid", ["val": .jid(F.peerLID)])]),
        ])])]),
        Node("ack", ["class": "message", "id": "3EB0", "from": .jid(F.peerLID), "t": "1", "phash": "2:x", "error": "479"]),
    ]

    /// A damaged copy of one of `seeds`: through the byte codec when the result still decodes, else as a tree.
    static func input(_ seeds: [Node], _ rng: inout SeededRandom) -> Node {
        let seed = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
        if Bool.random(using: &rng), let bytes = try? NodeEncoder.encode(seed) {
            let damaged = [0x00] + NodeFuzzTests.mutated(Array(bytes.dropFirst()), &rng)
            if let node = try? NodeDecoder().decode(frame: damaged) {
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
            let lengths = [0, 1, 3, 4, 31, 32, 33, 64, 65, 5000]
            node.content = .bytes((0..<lengths.randomElement(using: &rng)!).map { _ in UInt8.random(in: 0...255, using: &rng) })
        case 6:
            node.content = Bool.random(using: &rng) ? .string(strings.randomElement(using: &rng)!) : .none
        case 7:
            var child = Node(tags.randomElement(using: &rng)!)
            mutate(&child, depth: 0, &rng)
            node.content = .nodes(children + [child])
        default:
            node.tag = tags.randomElement(using: &rng)!
        }
    }

    @Test func messageParserSurvivesHostileStanzas() async {
        var rng = SeededRandom(seed: 0x3E55_A6E5)
        var codes: [String: Int] = [:]
        for step in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            let node = Self.input(Self.messageSeeds, &rng)
            do {
                let message = try IncomingMessage(node, own: F.own)
                codes["accepted", default: 0] += 1
                if case .nack(let error) = message.handling, error.nackCode == nil {
                    Issue.record("a refused message without a nack code")
                }
                _ = message.decryptionAddress(storedLID: F.peerLID)
                _ = message.retryReceiptCount(previouslySent: 0)
                _ = message.source.lidMapping
                // Every answer to what we accepted must be encodable.
                for answer in [message.deliveryReceipt(active: false), message.envelope.ack(),
                               message.retryReceipt(count: 2, bundle: F.bundle(), includeKeys: true)] where (try? NodeEncoder.encode(answer)) == nil {
                    Issue.record("unencodable answer \(answer)")
                }
            } catch {
                codes[error.code.description, default: 0] += 1
                if error.nackCode != .parsingError {
                    Issue.record("a parse failure that is not a 487: \(error)")
                }
            }
        }
        for reached in ["accepted", "missing_attribute", "invalid_attribute", "invalid_content", "limit_exceeded", "unexpected_tag"] {
            #expect(codes[reached, default: 0] > 0, "never reached \(reached): \(codes)")
        }
    }

    @Test func receiptParserSurvivesHostileStanzas() async {
        var rng = SeededRandom(seed: 0x2EC3_1B75)
        var codes: [String: Int] = [:]
        for step in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            do {
                let receipt = try IncomingReceipt(Self.input(Self.receiptSeeds, &rng), own: F.own)
                codes[receipt.retry?.keys != nil ? "retry_keys" : "accepted", default: 0] += 1
                _ = receipt.progress
            } catch {
                codes[error.code.description, default: 0] += 1
            }
        }
        for reached in ["accepted", "retry_keys", "missing_attribute", "invalid_attribute", "missing_child", "invalid_content"] {
            #expect(codes[reached, default: 0] > 0, "never reached \(reached): \(codes)")
        }
    }

    @Test func notificationParserSurvivesHostileStanzas() async {
        var rng = SeededRandom(seed: 0x4071_F1CA)
        var codes: [String: Int] = [:]
        for step in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            do {
                let notification = try IncomingNotification(Self.input(Self.notificationSeeds, &rng))
                switch notification.payload {
                case .preKeyCount: codes["count", default: 0] += 1
                case .devices: codes["devices", default: 0] += 1
                case .ownDevices: codes["own_devices", default: 0] += 1
                case .identityChange, .other: codes["other", default: 0] += 1
                }
            } catch {
                codes[error.code.description, default: 0] += 1
            }
        }
        for reached in ["count", "devices", "own_devices", "other", "missing_attribute", "invalid_attribute"] {
            #expect(codes[reached, default: 0] > 0, "never reached \(reached): \(codes)")
        }
    }

    @Test func queryAnswerParsersSurviveHostileStanzas() async {
        var rng = SeededRandom(seed: 0xA25E_0001)
        var codes: [String: Int] = [:]
        for step in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if step % 256 == 0 { await Task.yield() }
            let node = Self.input(Self.answerSeeds, &rng)
            do {
                for (_, bundle) in try PreKeyFetch.parse(node) {
                    switch bundle {
                    case .success: codes["bundle", default: 0] += 1
                    case .failure(let error): codes["user_" + error.code.description, default: 0] += 1
                    }
                }
            } catch {
                codes["prekeys_" + error.code.description, default: 0] += 1
            }
            do {
                codes[try USyncQuery.parse(node).isEmpty ? "usync_empty" : "usync_users", default: 0] += 1
            } catch {
                codes["usync_" + error.code.description, default: 0] += 1
            }
            do {
                codes[try ServerAck(node).isSuccess ? "ack_ok" : "ack_error", default: 0] += 1
            } catch {
                codes["ack_" + error.code.description, default: 0] += 1
            }
        }
        for reached in ["bundle", "user_error_answer", "user_invalid_content", "user_missing_child", "prekeys_missing_child",
                        "usync_users", "usync_missing_child", "ack_ok", "ack_error", "ack_missing_attribute"] {
            #expect(codes[reached, default: 0] > 0, "never reached \(reached): \(codes)")
        }
    }

    @Test func messageContentSurvivesHostileBytes() async throws {
        var seeds: [WAMessage] = []
        var text = WAMessage()
        text.conversation = "hello"
        text.senderKeyDistributionMessage.groupID = "120363@g.us"
        text.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data(repeating: 0x33, count: 40)
        var dsm = WAMessage()
        dsm.deviceSentMessage.destinationJid = "1@lid"
        dsm.deviceSentMessage.message.ephemeralMessage.message.extendedTextMessage.text = "x"
        dsm.deviceSentMessage.message.ephemeralMessage.message.extendedTextMessage.contextInfo.quotedMessage = text
        dsm.messageContextInfo.messageSecret = Data(repeating: 1, count: 32)
        var history = WAMessage()
        history.protocolMessage.type = 5
        history.protocolMessage.historySyncNotification.directPath = "/v/t62"
        history.protocolMessage.historySyncNotification.mediaKey = Data(repeating: 2, count: 32)
        var poll = WAMessage()
        poll.pollCreationMessageV3.name = "q"
        poll.pollCreationMessageV3.options = [.init(), .init()]
        seeds = [text, dsm, history, poll]
        let seedBytes = try seeds.map { (seed) throws -> [UInt8] in try seed.serializedBytes() }

        var rng = SeededRandom(seed: 0xC0_47E7)
        var decoded = 0
        for iteration in 0..<Self.iterations {
            // Let the suites beside this one (timers, sockets) run on the two cooperative threads.
            if iteration % 256 == 0 { await Task.yield() }
            let bytes = iteration % 5 == 0
                ? (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                : NodeFuzzTests.mutated(seedBytes[iteration % seedBytes.count], &rng)
            do {
                let content = try MessageContent(decoding: bytes)
                decoded += 1
                _ = MessageAttributes(for: content.message)
                if content.raw != bytes {
                    Issue.record("raw bytes changed")
                }
            } catch {
                if error.nackCode != .invalidProtobuf {
                    Issue.record("unexpected \(error)")
                }
            }
        }
        #expect(decoded > Self.iterations / 10)
        #expect(decoded < Self.iterations)
    }
}
