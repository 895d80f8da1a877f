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

/// Messages out through the whole pool: queued rows in PostgreSQL drained by the device's actor on a
/// scripted upstream that answers usync and prekey IQs with real keys, the ratchet state committed
/// before the stanza is written, and acks and receipts recorded as statuses with their webhooks.
@Suite("Sending through the pool", .requiresDatabase, .serialized)
struct SendPathTests {
    static let annCredentials = DeviceCredentials.pairedForTests(phoneNumber: "15551234567", lid: nil, device: 0, seed: 41)
    static let ownPhoneCredentials = DeviceCredentials.pairedForTests(phoneNumber: "15550009999", lid: nil, device: 0, seed: 42)
    static let ann = JID(user: "15551234567", server: .whatsApp)
    static let own = JID(user: "15550009999", server: .whatsApp)

    /// The server's answers: Ann has her phone; we have our phone and this device; nobody else
    /// (15550000000) is on WhatsApp.
    static func answer(_ iq: Node) -> Node? {
        switch iq.attribute("xmlns") {
        case "usync":
            let users = iq.child("usync")?.child("list")?.children.compactMap { user -> Node? in
                guard case .jid(let jid)? = user.attributes["jid"] else { return nil }
                let ids: [String] = jid == ann ? ["0"] : jid == own ? ["0", "7"] : []
                return Node("user", ["jid": .jid(jid)], [
                    Node("devices", [Node("device-list", ids.map { Node("device", ["id": .string($0)]) })]),
                ])
            } ?? []
            return Node("iq", ["type": "result"], [Node("usync", [Node("list", users)])])
        case "encrypt":
            let users = iq.child("key")?.children.compactMap { user -> Node? in
                guard case .jid(let jid)? = user.attributes["jid"] else { return nil }
                let credentials = jid.user == ann.user ? annCredentials : ownPhoneCredentials
                return try? bundle(credentials, jid: jid)
            } ?? []
            return Node("iq", ["type": "result"], [Node("list", users)])
        default:
            return nil
        }
    }

    static func bundle(_ credentials: DeviceCredentials, jid: JID, preKeyID: UInt32 = 1) throws -> Node {
        let identity = try Curve25519KeyPair(privateKey: credentials.identityKey).publicKey
        let signed = try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey
        let oneTime = try OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: preKeyID).publicKey
        let id: (UInt32) -> [UInt8] = { value in (0..<3).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        return Node("user", ["jid": .jid(jid)], [
            Node("registration", bytes: (0..<4).reversed().map { UInt8(truncatingIfNeeded: credentials.registrationID >> (8 * $0)) }),
            Node("type", bytes: [5]),
            Node("identity", bytes: identity),
            Node("skey", [Node("id", bytes: id(credentials.signedPreKeyID)), Node("value", bytes: signed),
                          Node("signature", bytes: credentials.signedPreKeySignature)]),
            Node("key", [Node("id", bytes: id(preKeyID)), Node("value", bytes: oneTime)]),
        ])
    }

    /// Ann's phone decrypts its part of a send stanza (or a resend's only `<enc>`) on a new session.
    static func annReads(_ stanza: Node) throws -> String {
        let part = try #require(
            stanza.child("participants")?.children.first { $0.attributes["jid"] == .jid(ann) }?.child("enc") ?? stanza.child("enc")
        )
        let message = try PreKeyWhisperMessage(parsing: try #require(part.bytes))
        let credentials = annCredentials
        var random = SeededRandom(seed: 3)
        let local = LocalIdentity(keyPair: try Curve25519KeyPair(privateKey: credentials.identityKey), registrationID: credentials.registrationID)
        let signed = try Curve25519KeyPair(privateKey: credentials.signedPreKey)
        let result = try SessionCipher.decrypt(
            message, record: SessionRecord(), local: local, signedPreKey: { _ in signed },
            oneTimePreKey: { try? OneTimePreKeys.keyPair(seed: credentials.preKeySeed, id: $0) }, using: &random
        )
        return try MessageContent(decoding: try MessagePadding.unpad(result.plaintext)).text ?? ""
    }

    func queue(_ h: PoolHarness, _ device: UUID, to: String, text: String) async throws -> String {
        let chat = try #require(OutboundRecipient.parse(to))
        let submission = OutboundSubmission(tenantID: h.tenant, deviceID: device, recipient: to, chat: chat, text: text, idempotencyKey: nil)
        guard case .queued(let message) = try await h.store.queueMessage(submission, now: h.clock.date) else {
            Issue.record("not queued")
            return ""
        }
        return message.waID
    }

    func row(_ h: PoolHarness, _ waID: String) async throws -> (status: String, attempts: Int32, reason: String?) {
        let row = try await h.pool.query("SELECT status, attempts, failure_reason FROM messages WHERE wa_id = $1", [waID])[0]
        return (try row.decode("status"), try row.decode("attempts"), try row.decode("failure_reason"))
    }

    @Test func queuedMessagesGoOutInOrderOneAckAtATimeAndReceiptsMoveTheirStatus() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a", upstream: ScriptedUpstream(makeCredentials: { .generate() }))
            try await h.running {
                let (device, login) = try await ReceivePathTests().onlineDevice(h)
                login.answerQueries { Self.answer($0) }
                let first = try await queue(h, device, to: "+15551234567", text: "first")
                let second = try await queue(h, device, to: "+15551234567", text: "second")
                h.supervisor.outboxReady(deviceID: device)
                try await eventually("the first stanza") { login.sent.contains { $0.tag == "message" } }

                // One usync for both users, one prekey fetch for the two devices without a session.
                #expect(login.queries.map { $0.attribute("xmlns") } == ["usync", "encrypt"])
                let stanza = try #require(login.sent.first { $0.tag == "message" })
                #expect(stanza.attributes["id"] == .string(first))
                #expect(stanza.attributes["to"] == .jid(Self.ann))
                #expect(stanza.child("participants")?.children.map { $0.attributes["jid"] } == [.jid(Self.ann), .jid(Self.own)])
                #expect(stanza.child("device-identity") != nil)
                #expect(try Self.annReads(stanza) == "first")
                // The sessions were committed before the stanza was written, with the attempt; our own
                // phone's under our LID, where the receive path keys it (messaging.md §1.3) — or, when
                // this first drain ran before the login's LID reached the credentials, under our
                // number, which the next send that knows the LID moves (RepeatSendTests).
                let sessions: [String] = try await pool.query(
                    "SELECT name || ':' || device FROM signal_sessions WHERE device_id = $1 ORDER BY 1", [device]
                ).map { try $0.decode(0) }
                #expect(sessions == ["15551234567:0", "900000000009999_1:0"] || sessions == ["15550009999:0", "15551234567:0"])
                #expect(try await row(h, first) == ("queued", 1, nil))
                // The second waits for the first one's ack.
                #expect(login.sent.filter { $0.tag == "message" }.count == 1)
                let lists: Int64 = try await pool.query("SELECT count(*) FROM device_lists WHERE device_id = $1", [device])[0].decode(0)
                #expect(lists == 2)

                login.emit(.stanza(Node("ack", ["class": "message", "id": .string(first), "from": .jid(Self.ann), "t": "1760000500"])))
                try await eventually("the second stanza") { login.sent.filter { $0.tag == "message" }.count == 2 }
                #expect(try await row(h, first).status == "sent")
                let ackedAt: Date = try await pool.query("SELECT acked_at FROM messages WHERE wa_id = $1", [first])[0].decode(0)
                #expect(ackedAt == Date(timeIntervalSince1970: 1_760_000_500))
                // Cached lists and stored sessions: no IQ for the second.
                #expect(login.queries.count == 2)
                #expect(login.sent.last { $0.tag == "message" }?.attributes["id"] == .string(second))

                // Receipts from Ann's phone: delivered, then read; each acked after its commit.
                login.emit(.stanza(Node("receipt", ["from": .jid(Self.ann), "id": .string(first), "t": "1760000600"])))
                login.emit(.stanza(Node("receipt", ["from": .jid(Self.ann), "id": .string(first), "t": "1760000700", "type": "read"])))
                // Each receipt's ack goes after its commit: both acks mean both statuses landed.
                try await eventually("both receipts acked") {
                    login.sent.filter { $0.tag == "ack" && $0.attribute("class") == "receipt" }.count == 2
                }
                #expect(try await row(h, first).status == "read")
                let statuses: [String] = try await pool.query("""
                    SELECT convert_from(body, 'UTF8')::jsonb -> 'data' ->> 'status' FROM webhook_events WHERE type = 'message.status' ORDER BY sequence
                    """).map { try $0.decode(0) }
                #expect(statuses == ["sent", "delivered", "read"])
                // A late delivery receipt does not move a read message back.
                login.emit(.stanza(Node("receipt", ["from": .jid(Self.ann), "id": .string(first), "t": "1760000800"])))
                try await eventually("acked") { login.sent.filter { $0.tag == "ack" && $0.attribute("class") == "receipt" }.count == 3 }
                #expect(try await row(h, first).status == "read")

                // Ann's phone lost the session and asks again with a new bundle: the message goes
                // again to her phone alone, same id, on a session from her keys.
                let keys = try Self.bundle(Self.annCredentials, jid: Self.ann, preKeyID: 2)
                login.emit(.stanza(Node("receipt", ["from": .jid(Self.ann), "id": .string(first), "t": "1760000900", "type": "retry"], [
                    Node("retry", ["count": "1", "id": .string(first), "t": "1760000500", "v": "1"]),
                    try #require(keys.child("registration")),
                    Node("keys", keys.children.filter { $0.tag != "registration" }),
                ])))
                try await eventually("the resend") { login.sent.filter { $0.tag == "message" }.count == 3 }
                let resend = try #require(login.sent.last { $0.tag == "message" })
                #expect(resend.attributes["id"] == .string(first))
                #expect(resend.attributes["to"] == .jid(Self.ann))
                #expect(resend.child("participants") == nil)
                #expect(resend.child("enc")?.attribute("count") == "1")
                #expect(try Self.annReads(resend) == "first")
                #expect(login.queries.count == 2)
            }
        }
    }

    @Test func aNumberWithoutWhatsAppFailsAndTheQueueGoesOn() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a", upstream: ScriptedUpstream(makeCredentials: { .generate() }))
            try await h.running {
                let (device, login) = try await ReceivePathTests().onlineDevice(h)
                login.answerQueries { Self.answer($0) }
                let nobody = try await queue(h, device, to: "+15550000000", text: "anyone?")
                let ann = try await queue(h, device, to: "+15551234567", text: "hi Ann")
                h.supervisor.outboxReady(deviceID: device)
                try await eventually("Ann's stanza") { login.sent.contains { $0.tag == "message" } }
                #expect(try await row(h, nobody) == ("failed", 0, "no_devices"))
                #expect(login.sent.first { $0.tag == "message" }?.attributes["id"] == .string(ann))
            }
        }
    }

    @Test func aMessageOlderThanTheQueueAgeExpiresAndALogoutFailsTheRest() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a", upstream: ScriptedUpstream(makeCredentials: { .generate() }))
            try await h.running {
                let (device, login) = try await ReceivePathTests().onlineDevice(h)
                let old = try await queue(h, device, to: "+15551234567", text: "old")
                try await pool.query("UPDATE messages SET queued_at = queued_at - interval '25 hours' WHERE wa_id = $1", [old])
                // No IQ is answered: the young message waits, queued.
                let young = try await queue(h, device, to: "+15551234567", text: "young")
                h.supervisor.outboxReady(deviceID: device)
                try await eventually("expired") { try await row(h, old).status == "failed" }
                #expect(try await row(h, old).reason == "expired")
                try await eventually("the usync was asked") { !login.queries.isEmpty }
                #expect(try await row(h, young).status == "queued")

                _ = try await h.supervisor.reset(deviceID: device, mode: .logout)
                try await eventually("logged out") { try await row(h, young).status == "failed" }
                #expect(try await row(h, young).reason == "logged_out")
            }
        }
    }

    @Test func aMessageOverTheRateWaitsForItAndRateOverlimitSlowsTheDeviceWithoutDroppingAnything() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(
                pool: pool, tenant: tenant, instance: "a", upstream: ScriptedUpstream(makeCredentials: { .generate() }),
                configure: { $0.sendRatePerMinute = 60; $0.sendBurst = 1 }
            )
            try await h.running {
                let (device, login) = try await ReceivePathTests().onlineDevice(h)
                login.answerQueries { Self.answer($0) }
                let first = try await queue(h, device, to: "+15551234567", text: "one")
                let second = try await queue(h, device, to: "+15551234567", text: "two")
                h.supervisor.outboxReady(deviceID: device)
                try await eventually("the first stanza") { login.sent.contains { $0.tag == "message" } }
                login.emit(.stanza(Node("ack", ["class": "message", "id": .string(first), "t": "1760000500"])))
                // Handled, and with it the drain that found the rate spent and set its wake.
                try await eventually("sent") { try await row(h, first).status == "sent" && login.unhandledEvents == 0 }
                // One a second, and the second of them has not come yet.
                #expect(login.sent.filter { $0.tag == "message" }.count == 1)
                h.clock.advance(by: .seconds(1))
                try await eventually("the second stanza after a second") { login.sent.filter { $0.tag == "message" }.count == 2 }

                // The server refuses the second with rate-overlimit: it stays queued and goes again
                // once the slower rate allows (two seconds now).
                login.emit(.stanza(Node("ack", ["class": "message", "id": .string(second), "t": "1760000501", "error": "429"])))
                try await eventually("the ack was handled") { login.unhandledEvents == 0 }
                #expect(try await row(h, second).status == "queued")
                h.clock.advance(by: .seconds(2))
                try await eventually("the second again") { login.sent.filter { $0.tag == "message" }.count == 3 }
                #expect(login.sent.last { $0.tag == "message" }?.attributes["id"] == .string(second))
                #expect(try await row(h, second).attempts == 2)
            }
        }
    }

    @Test func aStanzaTheServerNeverAcksClosesTheConnectionAndGoesAgainWithTheSameIDAfterTheReconnect() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(
                pool: pool, tenant: tenant, instance: "a", upstream: ScriptedUpstream(makeCredentials: { .generate() }),
                configure: {
                    $0.sendRatePerMinute = nil
                    $0.sendAckTimeout = .seconds(6)
                    // Only the ack deadline's time passes here; the lease stays far away.
                    $0.leaseTTL = .seconds(3600)
                    $0.renewInterval = .seconds(1200)
                }
            )
            try await h.running {
                let (device, login) = try await ReceivePathTests().onlineDevice(h)
                login.answerQueries { Self.answer($0) }
                let first = try await queue(h, device, to: "+15551234567", text: "first")
                let second = try await queue(h, device, to: "+15551234567", text: "second")
                h.supervisor.outboxReady(deviceID: device)
                try await eventually("the first stanza") { login.sent.contains { $0.tag == "message" } }

                // Acked within the deadline: the second goes, and its own deadline counts from then.
                h.clock.advance(by: .seconds(4))
                login.emit(.stanza(Node("ack", ["class": "message", "id": .string(first), "t": "1760000500"])))
                try await eventually("the second stanza") { login.sent.filter { $0.tag == "message" }.count == 2 }
                #expect(try await row(h, first).status == "sent")
                // The first message's deadline passes: nothing is closed for an acked message.
                h.clock.advance(by: .seconds(2))
                try await eventually("the ack was handled") { login.unhandledEvents == 0 }
                #expect(login.closeReason == nil)

                // The second's ack never comes: at its deadline the connection is closed as broken,
                // recorded as a local timeout, and the device backs off to reconnect.
                h.clock.advance(by: .seconds(4))
                try await eventually("closed") { login.closeReason != nil }
                let reason = try #require(login.closeReason)
                #expect(reason.stage == .local)
                #expect(reason.category == .timeout)
                #expect(reason.detail == "no server ack for message \(second) within 6 s")
                // The state and the disconnect row are separate writes: wait for both.
                try await eventually("backoff, its disconnect recorded as a timeout") {
                    guard try await h.state(device)?.kind == .backoff else { return false }
                    return try await h.disconnects(device).last == "timeout:backoff"
                }
                #expect(try await row(h, second) == ("queued", 1, nil))

                // Back online: the same message goes again, same WhatsApp id, and its ack is `sent`.
                var sessions = h.upstream.sessions.makeAsyncIterator()
                h.clock.advance(by: h.supervisor.configuration.policy.base)
                let again = try #require(await sessions.next())
                again.answerQueries { Self.answer($0) }
                again.emit(.online(OnlineInfo(jid: ReceivePathTests.jid, lid: ReceivePathTests.lid, serverTimeOffset: .zero)))
                try await eventually("the resend") { again.sent.contains { $0.tag == "message" } }
                let resend = try #require(again.sent.first { $0.tag == "message" })
                #expect(resend.attributes["id"] == .string(second))
                #expect(try await row(h, second) == ("queued", 2, nil))
                again.emit(.stanza(Node("ack", ["class": "message", "id": .string(second), "t": "1760000600"])))
                try await eventually("sent") { try await row(h, second).status == "sent" }
                #expect(again.sent.filter { $0.tag == "message" }.count == 1)
                #expect(again.closeReason == nil)
            }
        }
    }

    @Test func theSweeperExpiresOldMessagesOfDevicesThatAreNotOnline() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            let start = try await h.store.beginPairing(tenantID: tenant, deviceID: nil, name: nil, method: .qr,
                                                       owner: "writer", leaseTTL: .seconds(60), window: .seconds(180))
            try await pool.query("UPDATE devices SET state = 'paired', jid = '15550008888:7@s.whatsapp.net' WHERE id = $1", [start.device.id])
            let old = try await queue(h, start.device.id, to: "+15551234567", text: "old")
            let young = try await queue(h, start.device.id, to: "+15551234567", text: "young")
            try await pool.query("UPDATE messages SET queued_at = now() - interval '25 hours' WHERE wa_id = $1", [old])
            #expect(try await h.store.expireQueuedMessages(olderThan: .seconds(86_400), limit: 10) == 1)
            #expect(try await row(h, old) == ("failed", 0, "expired"))
            #expect(try await row(h, young).status == "queued")
            let events: Int64 = try await pool.query("SELECT count(*) FROM webhook_events WHERE type = 'message.status'")[0].decode(0)
            #expect(events == 1)
            // An online device's sender expires its own messages: the sweeper leaves them.
            try await pool.query("UPDATE messages SET queued_at = now() - interval '25 hours' WHERE wa_id = $1", [young])
            try await pool.query("UPDATE devices SET state = 'online' WHERE id = $1", [start.device.id])
            #expect(try await h.store.expireQueuedMessages(olderThan: .seconds(86_400), limit: 10) == 0)
        }
    }
}
