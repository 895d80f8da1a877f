import DevicePool
import Foundation
import Messaging
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Signal
import Testing
import WAClient
import WAWire

/// Messages through the whole pool: a paired device online on a scripted upstream, real Signal
/// stanzas delivered into its connection, the inbox in PostgreSQL, the answers the pool writes —
/// and a crashed pool's successor on the same database.
@Suite("Receiving through the pool", .requiresDatabase, .serialized)
struct ReceivePathTests {
    static let jid = "15550009999:7@s.whatsapp.net"
    static let lid = "900000000009999:7@lid"

    /// Pairs a device on `h` and brings it online with its LID known; returns it and its connection.
    func onlineDevice(_ h: PoolHarness) async throws -> (UUID, ScriptedSession) {
        var sessions = h.upstream.sessions.makeAsyncIterator()
        let ticket = try await h.supervisor.startPairing(tenantID: h.tenant, method: .qr)
        let pairing = try #require(await sessions.next())
        _ = await pairing.pairSuccess(jid: Self.jid)
        pairing.emit(.disconnected(DisconnectReason(stage: .stream, category: .restartRequired, code: 515, detail: "restart")))
        let login = try #require(await sessions.next())
        login.emit(.online(OnlineInfo(jid: Self.jid, lid: Self.lid, serverTimeOffset: .zero)))
        // As the client does at <success lid>: the LID joins the credentials.
        var credentials = login.credentials
        credentials.account?.lid = Self.lid
        login.emit(.credentialsUpdated(credentials))
        try await eventually("online") { try await h.state(ticket.deviceID) == .online }
        return (ticket.deviceID, login)
    }

    /// A `msg` from us that `contact` reads, encrypted with the session the pool stored.
    func reply(to contact: inout TestContact, device: UUID, h: PoolHarness) async throws {
        let record = try #require(try await h.store.device(device))
        let lease = Lease(deviceID: device, owner: record.leaseOwner ?? "", epoch: record.leaseEpoch)
        var request = StateRequest()
        let address = SignalAddress(contact.lidDevice)
        request.addresses = [address]
        let stored = try await h.store.protocolStore(lease, tenantID: h.tenant, sealer: h.sealer).load(request)
        var random = SeededRandom(seed: 5)
        let padded = MessagePadding.pad(Array("ok".utf8), using: &random)
        let reply = try SessionCipher.encrypt(padded, record: try SessionRecord(serialized: try #require(stored.sessions[address])))
        _ = try contact.read(reply.serialized)
    }

    func storedIDs(_ h: PoolHarness) async throws -> [String] {
        try await h.pool.query("SELECT wa_id FROM messages ORDER BY seq").map { try $0.decode(0) }
    }

    @Test func everyStanzaIsStoredOnceAndAnsweredInOrderAlsoAfterACrash() async throws {
        try await withPoolDatabase { pool, tenant in
            let a = PoolHarness.make(pool: pool, tenant: tenant, instance: "a", upstream: ScriptedUpstream(makeCredentials: { .generate() }))
            var replayed = Node("x")
            let device = try await withThrowingTaskGroup(of: Void.self, returning: UUID.self) { tasks in
                tasks.addTask { try await a.supervisor.run() }
                let (device, login) = try await onlineDevice(a)
                var ann = TestContact(phoneNumber: "15551234567", lid: "123456789012345", seed: 31)
                var bob = TestContact(phoneNumber: "15557654321", lid: "543210987654321", device: 2, seed: 32)
                var phone = TestContact(phoneNumber: "15550009999", lid: "900000000009999", seed: 33)
                try ann.startSession(with: login.credentials, oneTimePreKeyID: 3)
                try bob.startSession(with: login.credentials, oneTimePreKeyID: 4)
                try phone.startSession(with: login.credentials, oneTimePreKeyID: 5)
                let group = JID(user: "120363012345678901", server: .group)
                let peer = JID(user: "123456789012345", server: .lid)

                let first = ann.direct([try ann.encrypt(TestContact.text("hello"))], id: "3EB0A1")
                #expect(first.child("enc")?.attribute("type") == "pkmsg")
                login.emit(.stanza(first))
                try await eventually("the first message") { login.sent.count == 1 }
                try await reply(to: &ann, device: device, h: a)
                let second = ann.direct([try ann.encrypt(TestContact.text("second"))], id: "3EB0A2")
                #expect(second.child("enc")?.attribute("type") == "msg")
                let groupMessage = bob.group(group, [
                    try bob.encrypt(try bob.distribution(for: group)), try bob.groupEncrypt(TestContact.text("group hi"), group: group),
                ], id: "3EB0G1")
                let fromPhone = Node("message", [
                    "from": .jid(phone.lidDevice), "recipient": .jid(peer), "id": "3EB0O1", "t": "1760000300", "type": "text",
                ], [try phone.encrypt(TestContact.sentByPhone("from my phone", to: peer))])
                var broken = ann.direct([try ann.encrypt(TestContact.text("lost"))], id: "3EB0BAD")
                var bytes = try #require(broken.children.first?.bytes)
                bytes[bytes.count - 10] ^= 0x40
                broken.content = .nodes([TestContact.enc("msg", bytes)])
                let stanzas = [second, groupMessage, fromPhone, second, broken]
                for stanza in stanzas { login.emit(.stanza(stanza)) }
                try await eventually("every stanza answered") { login.sent.count == 7 && login.unhandledEvents == 0 }

                // Stored once each, the replay and the broken one not at all.
                #expect(try await storedIDs(a) == ["3EB0A1", "3EB0A2", "3EB0G1", "3EB0O1"])
                let texts: [String] = try await a.pool.query("SELECT text FROM messages ORDER BY seq").map { try $0.decode(0) }
                #expect(texts == ["hello", "second", "group hi", "from my phone"])
                // The answers, in order, addressed with the stanzas' own attributes.
                let sent = login.sent
                #expect(sent.map { "\($0.tag):\($0.attribute("type") ?? $0.attribute("class") ?? "-")" } == [
                    "receipt:inactive", "receipt:inactive", "receipt:inactive", "receipt:sender", "receipt:inactive", "receipt:retry", "ack:message",
                ])
                for (answer, stanza) in zip(sent, [first] + stanzas + [broken]) {
                    #expect(answer.attributes["id"] == stanza.attributes["id"])
                    #expect(answer.attributes["to"] == stanza.attributes["from"])
                    #expect(answer.attributes["participant"] == stanza.attributes["participant"])
                    #expect(answer.attributes["recipient"] == stanza.attributes["recipient"])
                }
                #expect(sent[5].child("retry")?.attribute("count") == "1")
                replayed = second
                // The pool dies without a word: no shutdown, no lease released.
                tasks.cancelAll()
                return device
            }
            try await pool.query("UPDATE devices SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [device])

            // A new pool on the same database takes the device over; the server redelivers the stanza
            // whose receipt it did not see. Only the receipt goes out, nothing is stored again.
            let b = PoolHarness.make(pool: pool, tenant: tenant, instance: "b")
            try await b.running {
                var sessions = b.upstream.sessions.makeAsyncIterator()
                let login = try #require(await sessions.next())
                #expect(login.credentials.account?.lid == Self.lid)
                login.emit(.online(OnlineInfo(jid: Self.jid, lid: Self.lid, serverTimeOffset: .zero)))
                login.emit(.stanza(replayed))
                try await eventually("the redelivery answered") { login.sent.count == 1 && login.unhandledEvents == 0 }
                #expect(login.sent.first?.tag == "receipt")
                #expect(login.sent.first?.attributes["id"] == "3EB0A2")
                #expect(try await storedIDs(b) == ["3EB0A1", "3EB0A2", "3EB0G1", "3EB0O1"])
            }
        }
    }

    @Test func aStanzaWhoseCommitIsFencedOutIsNotAnswered() async throws {
        try await withPoolDatabase { pool, tenant in
            let a = PoolHarness.make(pool: pool, tenant: tenant, instance: "a", upstream: ScriptedUpstream(makeCredentials: { .generate() }))
            try await a.running {
                let (device, login) = try await onlineDevice(a)
                var ann = TestContact(phoneNumber: "15551234567", lid: "123456789012345", seed: 34)
                try ann.startSession(with: login.credentials)
                // Another instance took the device over meanwhile.
                try await pool.query("UPDATE devices SET lease_epoch = lease_epoch + 1 WHERE id = $1", [device])
                login.emit(.stanza(ann.direct([try ann.encrypt(TestContact.text("too late"))], id: "3EB0LATE")))
                try await eventually("the device stopped") { !a.supervisor.ownedDevices.contains(device) }
                #expect(login.sent.isEmpty)
                #expect(try await storedIDs(a).isEmpty)
                #expect(login.closeReason?.detail == "lease lost")
            }
        }
    }
}
