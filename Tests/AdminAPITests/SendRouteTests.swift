import AdminAPI
import DevicePool
import Foundation
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing

/// POST /messages: a message is queued durably with its WhatsApp id chosen once, idempotently, and
/// every bad input gets its own problem code.
@Suite("POST /messages", .requiresDatabase, .serialized)
struct SendRouteTests {
    /// A paired device of `tenant` (our account `phone`, device 7), held by no gateway.
    static func pairedDevice(in h: APIHarness, _ tenant: TenantFixture, phone: String = "15550001111") async throws -> UUID {
        let start = try await h.store.beginPairing(tenantID: tenant.id, deviceID: nil, name: nil, method: .qr,
                                                   owner: "writer", leaseTTL: .seconds(60), window: .seconds(180))
        try await h.pool.query(
            "UPDATE devices SET state = 'paired', jid = $2, desired_state = 'stopped' WHERE id = $1",
            [start.device.id, "\(phone):7@s.whatsapp.net"]
        )
        return start.device.id
    }

    static func body(_ device: UUID, to: String = "+15551234567", text: String = "hello") -> String {
        let object: [String: String] = ["device_id": device.api, "to": to, "text": text]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test func aMessageIsQueuedWithItsWhatsAppIdAndShownByGetAndList() async throws {
        try await APIHarness.run { h in
            let device = try await Self.pairedDevice(in: h, h.acme)
            let reply = try await h.request(.POST, "/messages", host: h.acme.host, token: h.acme.token, json: Self.body(device))
            #expect(reply.status == 202)
            let id = try #require(reply.json["id"] as? String)
            let waID = try #require(reply.json["wa_id"] as? String)
            #expect(waID.hasPrefix("3EB0") && waID.count == 22)
            #expect(reply.json["status"] as? String == "queued")
            #expect(reply.json["direction"] as? String == "out")
            #expect(reply.json["to"] as? String == "+15551234567")
            #expect(reply.json["chat"] as? String == "15551234567@s.whatsapp.net")
            #expect(reply.json["sender"] as? String == "15550001111:7@s.whatsapp.net")
            #expect(reply.json["text"] as? String == "hello")
            #expect(reply.json["from_me"] as? Bool == true)
            #expect(reply.json["queued_at"] is String)
            #expect(reply.json["sent_at"] == nil)
            #expect(reply.header("Location") == "/messages/\(id)")

            let shown = try await h.request(.GET, "/messages/\(id)", host: h.acme.host, token: h.acme.token)
            #expect(shown.json["status"] as? String == "queued")
            #expect(shown.json["wa_id"] as? String == waID)
            #expect(shown.json["raw"] as? String == "CgVoZWxsbw==")
            let listed = try await h.request(.GET, "/messages?direction=out", host: h.acme.host, token: h.acme.token)
            #expect((listed.json["messages"] as? [[String: any Sendable]])?.map { $0["id"] as? String } == [id])
            #expect((try await h.request(.GET, "/messages?direction=in", host: h.acme.host, token: h.acme.token)
                .json["messages"] as? [[String: any Sendable]])?.isEmpty == true)
            // Another tenant sees nothing of it.
            #expect(try await h.request(.GET, "/messages/\(id)", host: h.beta.host, token: h.beta.token).status == 404)
        }
    }

    @Test func theSameIdempotencyKeyAndBodyGiveTheSameAnswerAndAnotherBodyIsRefused() async throws {
        try await APIHarness.run { h in
            let device = try await Self.pairedDevice(in: h, h.acme)
            let key = [("Idempotency-Key", "order-42")]
            let first = try await h.request(.POST, "/messages", host: h.acme.host, token: h.acme.token, json: Self.body(device), headers: key)
            let again = try await h.request(.POST, "/messages", host: h.acme.host, token: h.acme.token, json: Self.body(device), headers: key)
            #expect(first.status == 202)
            #expect(again.status == 202)
            #expect(again.json["id"] as? String == first.json["id"] as? String)
            #expect(again.json["wa_id"] as? String == first.json["wa_id"] as? String)
            #expect(again.header("Idempotent-Replayed") == "true")
            #expect(first.header("Idempotent-Replayed") == nil)

            let other = try await h.request(
                .POST, "/messages", host: h.acme.host, token: h.acme.token, json: Self.body(device, text: "changed"), headers: key
            )
            #expect(other.status == 422)
            #expect(other.json["code"] as? String == "idempotency_key_reused")
            // Keys are the tenant's own: another tenant may use the same one.
            let betaDevice = try await Self.pairedDevice(in: h, h.beta, phone: "15550002222")
            let beta = try await h.request(.POST, "/messages", host: h.beta.host, token: h.beta.token, json: Self.body(betaDevice), headers: key)
            #expect(beta.status == 202)
            #expect(beta.json["id"] as? String != first.json["id"] as? String)

            let count = try await h.pool.query("SELECT count(*) FROM messages WHERE direction = 'out'")[0].decode(0) as Int64
            #expect(count == 2)
        }
    }

    @Test func concurrentRequestsWithOneKeyQueueOneMessage() async throws {
        try await APIHarness.run { h in
            let device = try await Self.pairedDevice(in: h, h.acme)
            let ids = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await h.request(.POST, "/messages", host: h.acme.host, token: h.acme.token, json: Self.body(device),
                                            headers: [("Idempotency-Key", "same")]).json["id"] as? String
                    }
                }
                return try await group.reduce(into: Set<String?>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
            #expect(ids.first! != nil)
        }
    }

    @Test func badInputsGetTheirOwnProblemCodes() async throws {
        try await APIHarness.run { h in
            let device = try await Self.pairedDevice(in: h, h.acme)
            func post(_ json: String, headers: [(String, String)] = []) async throws -> (Int, String?) {
                let reply = try await h.request(.POST, "/messages", host: h.acme.host, token: h.acme.token, json: json, headers: headers)
                #expect(reply.status < 400 || reply.header("Content-Type") == "application/problem+json")
                return (reply.status, reply.json["code"] as? String)
            }
            #expect(try await post(Self.body(UUID())) == (404, "device_not_found"))
            let betaDevice = try await Self.pairedDevice(in: h, h.beta, phone: "15550002222")
            #expect(try await post(Self.body(betaDevice)) == (404, "device_not_found"))
            for to in ["15551234567", "+1555", "+0155512345678", "+1555123456789012", "+1555abc4567", "1555x@g.us", "1-2-3@g.us", "@g.us", "1555:2@g.us",
                       "12345678901234567890-123456789012345678901@g.us", "1555:2@lid", "x@lid", ""] {
                #expect(try await post(Self.body(device, to: to)) == (422, "invalid_recipient"), "to: \(to)")
            }
            // A group JID is queued: whether the account is in the group is the device's question.
            for to in ["120363000000000001@g.us", "15551234567-1400000000@g.us"] {
                #expect(try await post(Self.body(device, to: to)).0 == 202, "to: \(to)")
            }
            #expect(try await post(Self.body(device, text: "")) == (422, "text_too_long"))
            #expect(try await post(Self.body(device, text: String(repeating: "é", count: 65_537))) == (422, "text_too_long"))
            #expect(try await post(#"{"device_id":"nope","to":"+15551234567","text":"x"}"#) == (422, "validation_failed"))
            #expect(try await post(#"{"to":"+15551234567","text":"x"}"#).0 == 400)
            #expect(try await post(Self.body(device), headers: [("Idempotency-Key", String(repeating: "k", count: 256))]) == (422, "validation_failed"))
            // The longest text and a LID recipient are fine.
            #expect(try await post(Self.body(device, to: "123456789012345@lid", text: String(repeating: "é", count: 65_536))).0 == 202)
            // A device that logged out has no account to send from.
            try await h.pool.query("UPDATE devices SET state = 'logged_out', state_reason = 'test', jid = NULL WHERE id = $1", [device])
            #expect(try await post(Self.body(device)) == (409, "device_not_paired"))
        }
    }

    @Test func aTenantOverItsDailyQuotaIsToldToWaitAndARepeatedRequestIsStillAnswered() async throws {
        try await APIHarness.run(configure: { $0.tenantDailyQuota = 2 }) { h in
            let device = try await Self.pairedDevice(in: h, h.acme)
            let key = [("Idempotency-Key", "first")]
            let first = try await h.request(.POST, "/messages", host: h.acme.host, token: h.acme.token, json: Self.body(device), headers: key)
            #expect(first.status == 202)
            #expect(try await h.request(.POST, "/messages", host: h.acme.host, token: h.acme.token, json: Self.body(device)).status == 202)
            let third = try await h.request(.POST, "/messages", host: h.acme.host, token: h.acme.token, json: Self.body(device))
            #expect(third.status == 429)
            #expect(third.json["code"] as? String == "quota_exceeded")
            #expect(third.header("Retry-After") == "3600")
            let again = try await h.request(.POST, "/messages", host: h.acme.host, token: h.acme.token, json: Self.body(device), headers: key)
            #expect(again.status == 202)
            #expect(again.json["id"] as? String == first.json["id"] as? String)
        }
    }
}
