import AdminAPI
import DevicePool
import Foundation
import Messaging
import NIOHTTP1
import PairgateTestSupport
import PostgresStore
import Testing

/// GET /messages and GET /messages/{id}: the inbox as a tenant reads it, paged by an opaque cursor,
/// scoped to the tenant the Host names.
@Suite("GET /messages", .requiresDatabase, .serialized)
struct MessageRouteTests {
    /// A device of `tenant` with `ids` received in that order through the real protocol store.
    static func device(in h: APIHarness, _ tenant: TenantFixture, messages ids: [String]) async throws -> UUID {
        let start = try await h.store.beginPairing(tenantID: tenant.id, deviceID: nil, name: nil, method: .qr,
                                                   owner: "writer", leaseTTL: .seconds(60), window: .seconds(180))
        let store = h.store.protocolStore(start.lease, tenantID: tenant.id, sealer: APIHarness.sealer)
        for (index, id) in ids.enumerated() {
            var changes = ProtocolChanges()
            changes.message = InboxMessage(
                key: InboxKey(chat: "123456789012345@lid", sender: "123456789012345:2@lid", messageID: id),
                sentAt: Date(timeIntervalSince1970: TimeInterval(1_760_000_000 + index)), type: "text", text: "text \(id)",
                raw: [0x0A, 0x01, 0x41], fromMe: index == 0
            )
            _ = try await store.commit(changes)
        }
        return start.device.id
    }

    static func ids(_ reply: APIHarness.Reply) -> [String] {
        (reply.json["messages"] as? [[String: any Sendable]] ?? []).compactMap { $0["wa_id"] as? String }
    }

    @Test func pagesThroughTheTenantsMessagesOldestFirst() async throws {
        try await APIHarness.run { h in
            let device = try await Self.device(in: h, h.acme, messages: ["M1", "M2", "M3", "M4", "M5"])
            _ = try await Self.device(in: h, h.beta, messages: ["B1"])
            var seen: [String] = []
            var path = "/messages?limit=2"
            var pages = 0
            while true {
                let reply = try await h.request(.GET, path, host: h.acme.host, token: h.acme.token)
                #expect(reply.status == 200)
                pages += 1
                seen += Self.ids(reply)
                guard reply.json["has_more"] as? Bool == true, let next = reply.json["next_cursor"] as? String else {
                    // An empty page after the last keeps the position, for a client that polls.
                    let after = try #require(reply.json["next_cursor"] as? String)
                    let empty = try await h.request(.GET, "/messages?after=\(after)", host: h.acme.host, token: h.acme.token)
                    #expect(Self.ids(empty).isEmpty)
                    #expect(empty.json["next_cursor"] as? String == after)
                    break
                }
                path = "/messages?limit=2&after=\(next)"
            }
            #expect(seen == ["M1", "M2", "M3", "M4", "M5"])
            #expect(pages == 3)

            let first = try #require((try await h.request(.GET, "/messages?device_id=\(device.api)&direction=in&limit=1", host: h.acme.host, token: h.acme.token)
                .json["messages"] as? [[String: any Sendable]])?.first)
            #expect(first["device_id"] as? String == device.api)
            #expect(first["direction"] as? String == "in")
            #expect(first["chat"] as? String == "123456789012345@lid")
            #expect(first["sender"] as? String == "123456789012345:2@lid")
            #expect(first["type"] as? String == "text")
            #expect(first["text"] as? String == "text M1")
            #expect(first["from_me"] as? Bool == true)
            #expect(first["timestamp"] as? String == "2025-10-09T08:53:20.000Z")
            #expect(first["raw"] == nil)
            #expect(Self.ids(try await h.request(.GET, "/messages?direction=out", host: h.acme.host, token: h.acme.token)).isEmpty)
        }
    }

    @Test func oneMessageComesWithItsRawBytesAndOnlyToItsTenant() async throws {
        try await APIHarness.run { h in
            _ = try await Self.device(in: h, h.acme, messages: ["M1"])
            let listed = try #require((try await h.request(.GET, "/messages", host: h.acme.host, token: h.acme.token)
                .json["messages"] as? [[String: any Sendable]])?.first)
            let id = try #require(listed["id"] as? String)
            let one = try await h.request(.GET, "/messages/\(id)", host: h.acme.host, token: h.acme.token)
            #expect(one.status == 200)
            #expect(one.json["raw"] as? String == "CgFB")
            #expect(one.json["wa_id"] as? String == "M1")
            let elsewhere = try await h.request(.GET, "/messages/\(id)", host: h.beta.host, token: h.beta.token)
            #expect(elsewhere.status == 404)
            #expect(elsewhere.json["code"] as? String == "message_not_found")
            #expect(try await h.request(.GET, "/messages/not-a-uuid", host: h.acme.host, token: h.acme.token).status == 404)
            #expect(try await h.request(.GET, "/messages/\(id)", host: h.acme.host).status == 401)
        }
    }

    @Test func badParametersAreProblemsWithStableCodes() async throws {
        try await APIHarness.run { h in
            let other = try await Self.device(in: h, h.beta, messages: [])
            let cases: [(String, Int, String)] = [
                ("/messages?after=nope", 400, "invalid_cursor"),
                ("/messages?after=__________w", 400, "invalid_cursor"),
                ("/messages?limit=0", 422, "validation_failed"),
                ("/messages?limit=501", 422, "validation_failed"),
                ("/messages?limit=ten", 422, "validation_failed"),
                ("/messages?direction=sideways", 422, "validation_failed"),
                ("/messages?device_id=123", 422, "validation_failed"),
                ("/messages?device_id=\(UUID().api)", 404, "device_not_found"),
                ("/messages?device_id=\(other.api)", 404, "device_not_found"),
            ]
            for (path, status, code) in cases {
                let reply = try await h.request(.GET, path, host: h.acme.host, token: h.acme.token)
                #expect(reply.status == status, "\(path)")
                #expect(reply.json["code"] as? String == code, "\(path)")
                #expect(reply.header("Content-Type") == "application/problem+json", "\(path)")
            }
        }
    }
}

extension UUID {
    var api: String { uuidString.lowercased() }
}
