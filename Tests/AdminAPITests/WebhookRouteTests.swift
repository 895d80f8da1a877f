import AdminAPI
import DevicePool
import FleetHarness
import Foundation
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WAClient
import Webhooks

#if canImport(Glibc)
import Glibc
#endif

/// The tenant's webhook routes over real HTTP (docs/api.md, docs/webhooks.md), and the README's
/// walk-through: a tenant registers a receiver and, pairing a device, gets signed pairing and
/// state events that the PyPI `standardwebhooks` verifies.
@Suite("Webhook routes", .requiresDatabase)
struct WebhookRouteTests {
    private func create(_ h: APIHarness, _ tenant: TenantFixture, url: String = "https://hooks.example.com/in?token=abc",
                        events: [String] = ["device.state", "pairing.ended"]) async throws -> APIHarness.Reply {
        let body = try JSONSerialization.data(withJSONObject: ["url": url, "events": events, "description": "ops"])
        return try await h.request(.POST, "/webhooks", host: tenant.host, token: tenant.token, json: String(decoding: body, as: UTF8.self))
    }

    @Test func aRegisteredEndpointShowsItsSecretOnceAndOnlyToItsTenant() async throws {
        try await APIHarness.run { h in
            let created = try await create(h, h.acme)
            #expect(created.status == 201)
            let id = try #require(created.json["id"] as? String)
            #expect(created.header("Location") == "/webhooks/\(id)")
            let secret = try WebhookSecret(parsing: try #require(created.json["secret"] as? String))
            #expect(created.json["url"] as? String == "https://hooks.example.com/in?token=abc")
            #expect(created.json["events"] as? [String] == ["device.state", "pairing.ended"])
            #expect(created.json["enabled"] as? Bool == true)
            #expect(created.json["description"] as? String == "ops")

            let listed = try await h.request(.GET, "/webhooks", host: h.acme.host, token: h.acme.token)
            let endpoints = try #require(listed.json["webhooks"] as? [[String: any Sendable]])
            #expect(endpoints.map { $0["id"] as? String } == [id])
            #expect(endpoints[0]["secret"] == nil, "the secret is shown once")
            let shown = try await h.request(.GET, "/webhooks/\(id)", host: h.acme.host, token: h.acme.token)
            #expect(shown.status == 200)
            #expect(shown.json["secret"] == nil)
            // Sealed at rest: the row holds no plaintext, and opens under the master key.
            let row = try await h.pool.query("SELECT secret_key_id, secret_sealed FROM webhook_endpoints WHERE id = $1", [UUID(uuidString: id)!])[0]
            let sealed = SealedCredential(keyID: try row.decode(0), bytes: try row.decode(1))
            #expect(!sealed.bytes.contains(secret.bytes))
            #expect(try APIHarness.sealer.tenant(h.acme.id).open(sealed, deviceID: UUID(uuidString: id)!, kind: WebhookStore.secretKind) == secret.bytes)
            #expect(throws: SealingError(.tampered), "bound to its tenant") {
                try APIHarness.sealer.tenant(h.beta.id).open(sealed, deviceID: UUID(uuidString: id)!, kind: WebhookStore.secretKind)
            }
            // Another tenant sees nothing of it.
            for (method, path) in [(HTTPMethod.GET, "/webhooks/\(id)"), (.DELETE, "/webhooks/\(id)"), (.GET, "/webhooks/\(id)/deliveries")] {
                let other = try await h.request(method, path, host: h.beta.host, token: h.beta.token)
                #expect(other.status == 404)
                #expect(other.json["code"] as? String == "webhook_not_found")
            }
            let theirs = try await h.request(.GET, "/webhooks", host: h.beta.host, token: h.beta.token)
            #expect((theirs.json["webhooks"] as? [Any])?.isEmpty == true)
            let anonymous = try await h.request(.GET, "/webhooks", host: h.acme.host)
            #expect(anonymous.status == 401)
        }
    }

    @Test func badEndpointsGetStableCodes() async throws {
        try await APIHarness.run(webhooks: { $0.maximumEndpointsPerTenant = 2 }) { h in
            let cases: [(url: String, events: [String], status: Int, code: String)] = [
                ("http://127.0.0.1:9000/in", ["device.state"], 403, "private_address"),
                ("http://localhost/in", ["device.state"], 403, "private_address"),
                ("http://169.254.169.254/latest", ["device.state"], 403, "private_address"),
                ("ftp://hooks.example.com/", ["device.state"], 422, "unsupported_scheme"),
                ("https://user:pw@hooks.example.com/", ["device.state"], 422, "credentials_in_url"),
                ("https://hooks.example.com/#x", ["device.state"], 422, "invalid_url"),
                ("not a url", ["device.state"], 422, "invalid_url"),
                ("https://hooks.example.com/", [], 422, "validation_failed"),
                ("https://hooks.example.com/", ["device.state", "device.state"], 422, "validation_failed"),
                ("https://hooks.example.com/", ["device.exploded"], 422, "validation_failed"),
            ]
            for bad in cases {
                let reply = try await create(h, h.acme, url: bad.url, events: bad.events)
                #expect(reply.status == bad.status, "\(bad.url) \(bad.events)")
                #expect(reply.json["code"] as? String == bad.code, "\(bad.url) \(bad.events)")
                #expect(reply.header("Content-Type") == "application/problem+json")
            }
            let noURL = try await h.request(.POST, "/webhooks", host: h.acme.host, token: h.acme.token, json: #"{"events":["device.state"]}"#)
            #expect(noURL.status == 400)
            let long = try await h.request(.POST, "/webhooks", host: h.acme.host, token: h.acme.token,
                                           json: #"{"url":"https://a.example/","events":["device.state"],"description":"\#(String(repeating: "x", count: 501))"}"#)
            #expect(long.status == 422)
            #expect(try await create(h, h.acme).status == 201)
            #expect(try await create(h, h.acme).status == 201)
            let third = try await create(h, h.acme)
            #expect(third.status == 409)
            #expect(third.json["code"] as? String == "webhook_limit_reached")
            #expect(try await create(h, h.beta).status == 201, "the limit is per tenant")
        }
    }

    @Test func anEndpointIsChangedRotatedReplayedAndDeleted() async throws {
        try await APIHarness.run { h in
            let id = try #require(try await create(h, h.acme).json["id"] as? String)
            let path = "/webhooks/\(id)"
            let changed = try await h.request(.PATCH, path, host: h.acme.host, token: h.acme.token,
                                              json: #"{"url":"https://other.example/hook","events":["pairing.updated"],"enabled":false}"#)
            #expect(changed.status == 200)
            #expect(changed.json["url"] as? String == "https://other.example/hook")
            #expect(changed.json["events"] as? [String] == ["pairing.updated"])
            #expect(changed.json["enabled"] as? Bool == false)
            #expect(changed.json["disabled_reason"] as? String == "manual")
            let replayDisabled = try await h.request(.POST, path + "/replay", host: h.acme.host, token: h.acme.token, json: #"{"since":"2026-01-01T00:00:00Z"}"#)
            #expect(replayDisabled.status == 409)
            #expect(replayDisabled.json["code"] as? String == "webhook_disabled")
            let enabled = try await h.request(.PATCH, path, host: h.acme.host, token: h.acme.token, json: #"{"enabled":true}"#)
            #expect(enabled.json["enabled"] as? Bool == true)
            #expect(enabled.json["disabled_reason"] == nil)
            let unchanged = try await h.request(.PATCH, path, host: h.acme.host, token: h.acme.token, json: "{}")
            #expect(unchanged.status == 200)
            let private_ = try await h.request(.PATCH, path, host: h.acme.host, token: h.acme.token, json: #"{"url":"http://10.0.0.1/"}"#)
            #expect(private_.status == 403)

            let rotated = try await h.request(.POST, path + "/rotate-secret", host: h.acme.host, token: h.acme.token)
            #expect(rotated.status == 200)
            _ = try WebhookSecret(parsing: try #require(rotated.json["secret"] as? String))
            let overlap = try #require((rotated.json["previous_secret_expires_at"] as? String).flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0) })
            #expect(abs(overlap.timeIntervalSince(h.clock.date) - 86_400) < 5)

            let log = try await h.request(.GET, path + "/deliveries", host: h.acme.host, token: h.acme.token)
            #expect(log.status == 200)
            #expect((log.json["deliveries"] as? [Any])?.isEmpty == true)
            #expect(try await h.request(.GET, path + "/deliveries?cursor=x", host: h.acme.host, token: h.acme.token).status == 400)
            #expect(try await h.request(.GET, path + "/deliveries?status=lost", host: h.acme.host, token: h.acme.token).status == 422)
            #expect(try await h.request(.GET, path + "/deliveries?limit=0", host: h.acme.host, token: h.acme.token).status == 422)

            for (body, status) in [
                (#"{"since":"2026-01-01T00:00:00Z","after_event":"evt_01kqhphxwge5eafv4ecpgrvtxy"}"#, 422), ("{}", 422),
                (#"{"since":"yesterday"}"#, 422), (#"{"since":"2026-02-30T00:00:00Z"}"#, 422), (#"{"after_event":"evt_x"}"#, 422),
                (#"{"after_event":"evt_01kqhphxwge5eafv4ecpgrvtxy"}"#, 404), (#"{"since":"2026-01-01t00:00:00.123456+02:00"}"#, 202),
            ] {
                let reply = try await h.request(.POST, path + "/replay", host: h.acme.host, token: h.acme.token, json: body)
                #expect(reply.status == status, "\(body)")
            }
            let replayed = try await h.request(.POST, path + "/replay", host: h.acme.host, token: h.acme.token, json: #"{"since":"2000-01-01T00:00:00Z"}"#)
            #expect(replayed.json["replayed"] as? Int == 0)

            let deleted = try await h.request(.DELETE, path, host: h.acme.host, token: h.acme.token)
            #expect(deleted.status == 204)
            #expect(try await h.request(.GET, path, host: h.acme.host, token: h.acme.token).status == 404)
            #expect(try await h.request(.POST, path + "/rotate-secret", host: h.acme.host, token: h.acme.token).status == 404)
        }
    }

    @Test(.enabled("needs python3 with standardwebhooks (pip)") { if TestEnvironment.requiresTools { true } else { await PythonModules.available("standardwebhooks") } },
          .timeLimit(.minutes(2)))
    func aTenantsReceiverGetsSignedPairingAndStateEventsInOrderWhenItPairs() async throws {
        try #require(await PythonModules.available("standardwebhooks"), "install standardwebhooks with pip (ops/test.sh does)")
        try await APIHarness.run(webhooks: { $0.allowPrivate = true }) { h in
            let port = try PairgateTestSupport.freeTCPPort()
            let created = try await create(h, h.acme, url: "http://127.0.0.1:\(port)/pairgate", events: ["pairing.updated", "pairing.ended", "device.state"])
            let secret = try #require(created.json["secret"] as? String)
            // The README's receiver script, verifying with standardwebhooks, until six events came.
            let script = WebhookRouteTests.repository.appending(path: "ops/webhook-receiver.py").path
            let python = try #require(WebhookPython.executable)
            async let receiver = ChildProcess.run(python, [script, "--secret", secret, "--port", "\(port)", "--count", "6"])
            try await eventually("the receiver listening", limit: .seconds(20), pause: .milliseconds(50)) { Self.accepts(port: port) }

            let (reply, pairing) = try await h.startQRPairing(h.acme)
            let deviceID = try #require(reply.json["device_id"] as? String)
            var sessions = h.node.upstream.sessions.makeAsyncIterator()
            await pairing.pairSuccess(jid: "15551234567:4@s.whatsapp.net")
            pairing.emit(.disconnected(DisconnectReason(stage: .stream, category: .restartRequired, code: 515, detail: "restart")))
            let login = try #require(await sessions.next())
            login.emit(.online(OnlineInfo(jid: "15551234567:4@s.whatsapp.net", lid: nil, serverTimeOffset: .zero)))

            let result = try await receiver
            #expect(result.status == 0, "\(result.errorText)")
            let events = result.outputText.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: any Sendable]
            }
            let summary = events.map { event -> String in
                let data = event["data"] as? [String: any Sendable] ?? [:]
                let type = event["type"] as? String ?? "?"
                return type == "device.state" ? "\(data["from"] ?? "?")→\(data["to"] ?? "?")" : type
            }
            #expect(summary == ["unpaired→pairing", "pairing.updated", "pairing→paired", "pairing.ended", "paired→connecting", "connecting→online"])
            #expect(events.allSatisfy { $0["device_id"] as? String == deviceID && $0["tenant_id"] as? String == h.acme.id.uuidString.lowercased() })
            #expect((events[3]["data"] as? [String: any Sendable])?["outcome"] as? String == "paired")
            #expect((events[4]["data"] as? [String: any Sendable])?["decision"] as? String == "reconnect_now")

            // The deliveries log shows each one delivered at the first attempt.
            let id = try #require(created.json["id"] as? String)
            let log = try await h.request(.GET, "/webhooks/\(id)/deliveries?limit=3", host: h.acme.host, token: h.acme.token)
            let page = try #require(log.json["deliveries"] as? [[String: any Sendable]])
            #expect(page.count == 3)
            #expect(page.allSatisfy { $0["status"] as? String == "delivered" && $0["attempts"] as? Int == 1 })
            #expect((page[0]["attempt_log"] as? [[String: any Sendable]])?.first?["status_code"] as? Int == 204)
            let cursor = try #require(log.json["next_cursor"] as? String)
            let rest = try await h.request(.GET, "/webhooks/\(id)/deliveries?cursor=\(cursor)", host: h.acme.host, token: h.acme.token)
            #expect((rest.json["deliveries"] as? [Any])?.count == 3)
            #expect(rest.json["next_cursor"] == nil)
        }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Whether something listens on 127.0.0.1:`port`.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
