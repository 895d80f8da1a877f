import Foundation
import Messaging
import PairgateTestSupport
import Signal
import Testing
import WAClient
import WAWire

/// Hostile stanzas through the whole receive pipeline (memory store), seeded so a failure replays: real
/// encrypted messages, receipts and notifications, damaged in their attributes, children and bytes.
/// Every one must come back answered — an ack or a receipt that encodes — and nothing may trap.
@Suite struct InboundFuzzTests {
    typealias F = ReceiveFixture
    static let iterations = 100_000

    static let keys = [
        "id", "from", "participant", "recipient", "t", "type", "category", "addressing_mode", "sender_pn", "sender_lid",
        "participant_pn", "participant_lid", "peer_recipient_pn", "peer_recipient_lid", "v", "count", "offline", "edit",
    ]
    static let strings = ["", "0", "1", "-5", "pkmsg", "msg", "skmsg", "msmsg", "peer_msg", "peer", "lid", "pn", "retry", "read", "\u{0}x", "999999999999999999999"]
    static let jids = [
        JID(user: "123456789012345", server: .lid), JID(user: "123456789012345", device: 3, server: .lid),
        JID(user: "15551234567", server: .whatsApp), JID(user: "15551234567", device: 9, server: .whatsApp),
        JID(user: F.ownPhoneNumber, device: 2, server: .whatsApp), JID(user: F.ownLID, server: .lid), F.group, .statusBroadcast,
        .serverJID, JID(user: "1", device: 3, server: .hostedLID), JID(user: "777", server: .newsletter), JID(user: "x:y", server: .lid),
    ]

    /// Real stanzas of every kind the pipeline reads, in delivery order.
    static func seeds(_ fixture: ReceiveFixture) throws -> [Node] {
        var ann = F.ann()
        var bob = F.bob()
        var phone = F.ownPhone()
        try ann.startSession(with: fixture.credentials, oneTimePreKeyID: 3)
        try bob.startSession(with: fixture.credentials, oneTimePreKeyID: 4)
        try phone.startSession(with: fixture.credentials, oneTimePreKeyID: 6)
        let peer = JID(user: "123456789012345", server: .lid)
        return [
            ann.direct([try ann.encrypt(TestContact.text("first"))], id: "A1"),
            ann.direct([try ann.encrypt(TestContact.text("second"))], id: "A2", addressing: .phoneNumber(withLID: true)),
            bob.group(F.group, [try bob.encrypt(try bob.distribution(for: F.group)), try bob.groupEncrypt(TestContact.text("g"), group: F.group)], id: "G1"),
            bob.group(F.group, [try bob.groupEncrypt(TestContact.text("g2"), group: F.group)], id: "G2"),
            Node("message", ["from": .jid(phone.lidDevice), "recipient": .jid(peer), "id": "O1", "t": "5", "category": "peer"],
                 [try phone.encrypt(TestContact.sentByPhone("mine", to: peer))]),
            Node("message", ["from": .jid(phone.lidDevice), "id": "H1", "t": "5"], [try phone.encrypt(TestContact.historySyncNotification())]),
            Node("message", ["from": .jid(JID(user: "777", server: .newsletter)), "id": "N1", "t": "1"], [Node("plaintext", bytes: [0x0A, 0x01, 0x41])]),
            Node("message", ["from": .jid(peer), "id": "U1", "t": "1"], [Node("unavailable", ["type": "view_once"])]),
            Node("receipt", ["from": .jid(peer.withDevice(3)), "id": "R1", "type": "read", "t": "9"], [Node("list", [Node("item", ["id": "R2"])])]),
            Node("receipt", ["from": .jid(peer.withDevice(3)), "id": "R3", "type": "retry", "t": "9"], [
                Node("retry", ["count": "2", "id": "R3", "t": "8", "v": "1"]), Node("registration", bytes: [0, 0, 0, 9]),
            ]),
            Node("notification", ["from": .jid(ann.phoneNumber), "type": "encrypt", "id": "E1"], [Node("identity")]),
            Node("notification", ["from": .jid(ann.phoneNumber), "type": "devices", "id": "D1"], [
                Node("remove", ["device_hash": "2:x"], [Node("device", ["jid": .jid(ann.phoneNumberDevice)])]),
            ]),
        ]
    }

    @Test func everyHostileStanzaIsAnsweredAndNothingTraps() async throws {
        var fixture = F()
        let seeds = try Self.seeds(fixture)
        var random = SeededRandom(seed: 0x5EED_F022)
        var dispositions: Set<String> = []
        for iteration in 0..<Self.iterations {
            var stanza = seeds[Int(random.next() % UInt64(seeds.count))]
            // One in eight goes through unchanged, so real state builds up and later damage meets it.
            if random.next() % 8 != 0 {
                let rounds = 1 + Int(random.next() % 3)
                for _ in 0..<rounds { Self.mutate(&stanza, using: &random) }
            }
            let result = try await fixture.receive(stanza)
            guard let last = result.answers.last, result.answers.allSatisfy({ $0.tag == "ack" || $0.tag == "receipt" }) else {
                Issue.record("iteration \(iteration): no answer for \(stanza.tag) (\(result.summary))")
                return
            }
            #expect(throws: Never.self) { _ = try NodeEncoder.encode(last) }
            dispositions.insert("\(result.report.disposition)".prefix { $0 != "(" }.description)
        }
        // The damage reached every outcome, decryption failures and stored messages included.
        #expect(dispositions.isSuperset(of: ["stored", "duplicate", "decryptFailed", "refused", "acknowledged"]))
    }

    static func mutate(_ node: inout Node, using random: inout SeededRandom) {
        func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }
        switch random.next() % 9 {
        case 0:
            node.attributes = Node.Attributes(node.attributes.filter { _ in random.next() % 3 != 0 })
        case 1:
            node.attributes[pick(keys)] = .string(pick(strings))
        case 2:
            node.attributes[pick(keys)] = .jid(pick(jids))
        case 3, 4, 5:
            // Damage one child: an <enc>'s bytes, type, version or count, or its place.
            var children = node.children
            guard !children.isEmpty else { return }
            let index = Int(random.next() % UInt64(children.count))
            var child = children[index]
            switch random.next() % 6 {
            case 0:
                var bytes = child.bytes ?? []
                if !bytes.isEmpty { bytes[Int(random.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1) }
                child.content = .bytes(bytes)
            case 1:
                let bytes = child.bytes ?? []
                child.content = .bytes(Array(bytes.prefix(Int(random.next() % UInt64(bytes.count + 1)))))
            case 2:
                child.attributes["type"] = .string(pick(strings))
            case 3:
                child.attributes["v"] = .string(pick(strings))
            case 4:
                child.attributes["count"] = .string(pick(strings))
            default:
                children.append(child)
            }
            children[index] = child
            node.content = .nodes(children)
        case 6:
            node.content = .nodes(node.children.filter { _ in random.next() % 2 == 0 })
        case 7:
            node.content = .nodes(node.children.reversed())
        default:
            node.tag = pick(["message", "receipt", "notification", "call", "iq"])
        }
    }
}
