import AdminAPI
import DevicePool
import Foundation
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WAClient

/// Serialized: each test runs a gateway or two with their own database, and the whole test run
/// shares one PostgreSQL server's connections.
@Suite("The device lifecycle: list, show, change, stop, start, delete", .requiresDatabase, .serialized)
struct DeviceLifecycleTests {
    // MARK: Listing and showing

    @Test func devicesArePagedOldestFirstAndFilteredByStateDesiredStateAndLabels() async throws {
        try await APIHarness.run { h in
            let online = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            var spare: [UUID] = []
            for index in 1...3 {
                spare.append(try await h.pool.query(
                    "INSERT INTO devices (tenant_id, name) VALUES ($1, $2) RETURNING id", [h.acme.id, "spare \(index)"]
                )[0].decode(0))
            }
            _ = try await h.pool.query("INSERT INTO devices (tenant_id) VALUES ($1)", [h.beta.id])
            #expect(try await h.patch(online, #"{"labels":{"env":"prod","customer":"c-1"}}"#).status == 200)
            #expect(try await h.patch(spare[0], #"{"labels":{"env":"prod"}}"#).status == 200)
            #expect(try await h.patch(spare[1], #"{"labels":{"env":"test"}}"#).status == 200)

            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await h.request(.GET, "/devices?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), host: h.acme.host, token: h.acme.token)
                #expect(page.status == 200)
                let devices = try #require(page.json["devices"] as? [[String: any Sendable]])
                #expect(devices.count <= 2)
                seen += devices.compactMap { $0["id"] as? String }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            #expect(seen == ([online] + spare).map(\.lowercase))

            func ids(_ query: String) async throws -> [String] {
                let reply = try await h.request(.GET, "/devices?\(query)", host: h.acme.host, token: h.acme.token)
                #expect(reply.status == 200, "\(query): \(reply.body)")
                return (reply.json["devices"] as? [[String: any Sendable]] ?? []).compactMap { $0["id"] as? String }
            }
            #expect(try await ids("state=online") == [online.lowercase])
            #expect(try await ids("state=unpaired&state=online").count == 4)
            #expect(try await ids("label=env:prod") == [online.lowercase, spare[0].lowercase])
            #expect(try await ids("label=env:prod&label=customer:c-1") == [online.lowercase])
            #expect(try await ids("label=env:prod&state=unpaired") == [spare[0].lowercase])
            #expect(try await ids("desired_state=stopped").isEmpty)
            #expect(try await ids("label=env:staging").isEmpty)
            #expect(try await ids("label=env:prod&label=env:test").isEmpty)
            #expect(try await ids("label=env:prod&label=env:prod") == [online.lowercase, spare[0].lowercase])

            let refused = [("state=asleep", 422), ("label=env", 422), ("label=bad%20key:x", 422), ("limit=0", 422),
                           ("desired_state=paused", 422), ("cursor=nonsense", 400)]
            for (query, status) in refused {
                let reply = try await h.request(.GET, "/devices?\(query)", host: h.acme.host, token: h.acme.token)
                #expect(reply.status == status, "\(query): \(reply.body)")
            }
            let beta = try await h.request(.GET, "/devices", host: h.beta.host, token: h.beta.token)
            #expect((beta.json["devices"] as? [Any])?.count == 1)
        }
    }

    @Test func aDeviceShowsItsStateOwnerLabelsAndProxyButNeverTheProxysCredentials() async throws {
        try await APIHarness.run { h in
            let id = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            let changed = try await h.patch(id, #"""
                {"name":"till 2","labels":{"customer":"c-42","Region":"eu-west/1"},"proxy":"socks5://user:s3cret@proxy.example:1080"}
                """#)
            #expect(changed.status == 200, "\(changed.body)")
            let shown = try await h.request(.GET, "/devices/\(id.lowercase)", host: h.acme.host, token: h.acme.token)
            #expect(shown.status == 200)
            #expect(shown.json["name"] as? String == "till 2")
            #expect(shown.json["state"] as? String == "online")
            #expect(shown.json["desired_state"] as? String == "running")
            #expect(shown.json["owner"] as? String == "a")
            #expect(shown.json["number"] as? String == "•••4567")
            #expect(shown.json["since"] is String)
            #expect((shown.json["last_disconnect"] as? [String: any Sendable])?["category"] as? String == "restart_required")
            #expect(shown.json["labels"] as? [String: String] == ["customer": "c-42", "Region": "eu-west/1"])
            let proxy = try #require(shown.json["proxy"] as? [String: any Sendable])
            #expect(proxy["scheme"] as? String == "socks5")
            #expect(proxy["host"] as? String == "proxy.example")
            #expect(proxy["port"] as? Int == 1080)
            for reply in [changed, shown] {
                #expect(!reply.body.contains("s3cret") && !reply.body.contains("user"))
                #expect(!reply.body.contains("15551234567"))
            }

            // Sealed at rest under the device's id and its own kind.
            let row = try await h.pool.query("SELECT key_id, sealed FROM device_credentials WHERE device_id = $1 AND kind = 'proxy'", [id])[0]
            let sealed = SealedCredential(keyID: try row.decode(0), bytes: try row.decode(1))
            #expect(!String(decoding: sealed.bytes, as: UTF8.self).contains("s3cret"))
            let opened = try APIHarness.sealer.tenant(h.acme.id).open(sealed, deviceID: id, kind: DeviceProxy.credentialKind)
            #expect(throws: SealingError(.tampered), "bound to its tenant") {
                try APIHarness.sealer.tenant(h.beta.id).open(sealed, deviceID: id, kind: DeviceProxy.credentialKind)
            }
            #expect(String(decoding: opened, as: UTF8.self) == "socks5://user:s3cret@proxy.example:1080")

            // Merge-patch: null removes one label, all labels, the proxy, the name.
            #expect(try await h.patch(id, #"{"labels":{"Region":null,"tier":"gold"}}"#).json["labels"] as? [String: String] == ["customer": "c-42", "tier": "gold"])
            let cleared = try await h.patch(id, #"{"labels":null,"proxy":null,"name":null}"#)
            #expect(cleared.json["labels"] as? [String: String] == [:])
            #expect(cleared.json["proxy"] == nil && cleared.json["name"] == nil)
            #expect(try await h.pool.query("SELECT 1 FROM device_credentials WHERE device_id = $1 AND kind = 'proxy'", [id]).isEmpty)
            #expect(try await h.patch(id, "{}").status == 200)

            let foreign = try await h.request(.GET, "/devices/\(id.lowercase)", host: h.beta.host, token: h.beta.token)
            #expect(foreign.status == 404)
            #expect(try await h.request(.PATCH, "/devices/\(id.lowercase)", host: h.beta.host, token: h.beta.token, json: #"{"name":"x"}"#).status == 404)
            #expect(try await h.request(.GET, "/devices/\(UUID().uuidString)", host: h.acme.host, token: h.acme.token).status == 404)
        }
    }

    @Test func badSettingsAreRefusedWithTheRuleTheyBreak() async throws {
        try await APIHarness.run { h in
            let id = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            let tooMany = "{" + (1...33).map { "\"k\($0)\":\"v\"" }.joined(separator: ",") + "}"
            let cases: [(String, Int)] = [
                (#"{"proxy":"ftp://proxy.example:21"}"#, 422),
                (#"{"proxy":"http://proxy.example"}"#, 422),
                (#"{"proxy":"http://proxy.example:8080/path"}"#, 422),
                (#"{"proxy":"http://user:pass@proxy example:8080"}"#, 422),
                (#"{"proxy":"socks5://proxy.example:70000"}"#, 422),
                (#"{"name":""}"#, 422),
                (#"{"labels":{"bad key":"x"}}"#, 422),
                (#"{"labels":{"a:b":"x"}}"#, 422),
                (#"{"labels":{"k":"line\nbreak"}}"#, 422),
                (#"{"labels":\#(tooMany)}"#, 422),
                (#"{"labels":{"k":1}}"#, 400),
                (#"{"labels":["k"]}"#, 400),
                (#"{"proxy":42}"#, 400),
            ]
            for (body, status) in cases {
                let reply = try await h.patch(id, body)
                #expect(reply.status == status, "\(body): \(reply.body)")
                #expect(reply.header("Content-Type") == "application/problem+json")
            }
            let shown = try await h.request(.GET, "/devices/\(id.lowercase)", host: h.acme.host, token: h.acme.token)
            #expect(shown.json["labels"] as? [String: String] == [:])
            #expect(shown.json["proxy"] == nil)
        }
    }

    // MARK: Stop and start

    @Test func aStopIsRoutedToTheOwnerAndHoldsThroughMovesUntilAStartAnywhere() async throws {
        try await APIHarness.run(instances: ["a", "b"]) { h in
            let stopped = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net", node: 0)
            let canary = try await h.onlineDevice(h.acme, jid: "15557654321:2@s.whatsapp.net", node: 0)
            var sessionsA = h.nodes[0].upstream.sessions.makeAsyncIterator()
            var sessionsB = h.nodes[1].upstream.sessions.makeAsyncIterator()
            let (countA, countB) = (h.nodes[0].upstream.sessionCount, h.nodes[1].upstream.sessionCount)

            let stop = try await h.request(.POST, "/devices/\(stopped.lowercase)/stop", host: h.acme.host, token: h.acme.token, node: 1)
            #expect(stop.status == 200, "\(stop.body)")
            #expect(stop.json["state"] as? String == "paired")
            #expect(stop.json["desired_state"] as? String == "stopped")
            #expect(stop.json["owner"] == nil)
            let last = try #require(stop.json["last_disconnect"] as? [String: any Sendable])
            #expect(last["category"] as? String == "shutdown")
            #expect(last["detail"] as? String == "stopped through the API")
            #expect(!h.nodes[0].supervisor.ownedDevices.contains(stopped))
            #expect(try await h.request(.POST, "/devices/\(stopped.lowercase)/stop", host: h.acme.host, token: h.acme.token).status == 200)

            // A move: the canary's owner lets it go, and the next look for free devices takes the
            // canary — never the stopped device.
            h.nodes[0].supervisor.stop(deviceID: canary)
            try await eventually("the canary is free") { try await h.store.device(canary)?.leaseOwner == nil }
            #expect(try await h.store.claimableDevices(after: nil, limit: 10) == [canary])
            h.clock.advance(by: .seconds(10))
            try await eventually("the canary was claimed again") {
                h.nodes[0].supervisor.ownedDevices.contains(canary) || h.nodes[1].supervisor.ownedDevices.contains(canary)
            }
            #expect(!h.nodes[0].supervisor.ownedDevices.contains(stopped) && !h.nodes[1].supervisor.ownedDevices.contains(stopped))
            #expect(try await h.store.device(stopped)?.leaseOwner == nil)
            // Drop the canary's new login, wherever it went.
            let canaryNode = h.nodes[0].supervisor.ownedDevices.contains(canary) ? 0 : 1
            try await h.waitForSession(node: canaryNode, beyond: canaryNode == 0 ? countA : countB)
            let canaryLogin = try #require(canaryNode == 0 ? await sessionsA.next() : await sessionsB.next())
            #expect(canaryLogin.intent == .login)
            let countB2 = h.nodes[1].upstream.sessionCount

            // A start on the other instance connects it there at once.
            let start = try await h.request(.POST, "/devices/\(stopped.lowercase)/start", host: h.acme.host, token: h.acme.token, node: 1)
            #expect(start.status == 200, "\(start.body)")
            #expect(start.json["desired_state"] as? String == "running")
            #expect(start.json["owner"] as? String == "b")
            try await h.waitForSession(node: 1, beyond: countB2)
            let login = try #require(await sessionsB.next())
            #expect(login.intent == .login)
            login.emit(.online(OnlineInfo(jid: "15551234567:4@s.whatsapp.net", lid: nil, serverTimeOffset: .zero)))
            try await eventually("online again") { try await h.store.device(stopped)?.state == .online }
            #expect(try await h.request(.POST, "/devices/\(stopped.lowercase)/start", host: h.acme.host, token: h.acme.token).status == 200)
        }
    }

    @Test func aStopTheOwnerNeverHeardIsAppliedByItsOwnLook() async throws {
        try await APIHarness.run { h in
            let id = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            // As if the routed request had been lost: only the column says so.
            try await h.pool.query("UPDATE devices SET desired_state = 'stopped' WHERE id = $1", [id])
            h.clock.advance(by: .seconds(10))
            try await eventually("closed and released") {
                let record = try await h.store.device(id)
                return record?.state == .paired && record?.leaseOwner == nil
            }
            try await eventually("no longer run here") { !h.node.supervisor.ownedDevices.contains(id) }
        }
    }

    @Test func aPairingCannotBeStoppedAndUnknownDevicesAreNotFound() async throws {
        try await APIHarness.run { h in
            let (reply, _) = try await h.startQRPairing(h.acme)
            let id = try #require(reply.json["device_id"] as? String)
            let stop = try await h.request(.POST, "/devices/\(id)/stop", host: h.acme.host, token: h.acme.token)
            #expect(stop.status == 409)
            #expect(stop.json["code"] as? String == "device_pairing")
            for path in ["/devices/\(UUID().uuidString)/stop", "/devices/\(UUID().uuidString)/start", "/devices/\(id)/stop"] {
                let other = try await h.request(.POST, path, host: h.beta.host, token: h.beta.token)
                #expect(other.status == 404)
                #expect(other.json["code"] as? String == "device_not_found")
            }
        }
    }

    @Test func resetsOfAStoppedDeviceNeverConnectIt() async throws {
        try await APIHarness.run { h in
            let id = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            #expect(try await h.request(.POST, "/devices/\(id.lowercase)/stop", host: h.acme.host, token: h.acme.token).status == 200)
            let sessionsBefore = h.node.upstream.sessionCount

            let soft = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"device_id":"\#(id.lowercase)","mode":"soft"}"#)
            #expect((soft.json["results"] as? [[String: any Sendable]])?.first?["result"] as? String == "unchanged")
            let logout = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"device_id":"\#(id.lowercase)","mode":"logout"}"#)
            let result = try #require((logout.json["results"] as? [[String: any Sendable]])?.first)
            #expect(result["result"] as? String == "applied")
            #expect(result["state"] as? String == "logged_out")
            #expect(h.node.upstream.sessionCount == sessionsBefore)
            #expect(try await h.store.loadCredentials(deviceID: id, kind: "device") == nil)
            let record = try #require(try await h.store.device(id))
            #expect(record.leaseOwner == nil && record.jid == nil)
        }
    }

    // MARK: The device's own proxy

    @Test func theNextConnectionGoesThroughTheDevicesProxyAndALogoutKeepsIt() async throws {
        try await APIHarness.run { h in
            let id = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            var sessions = h.node.upstream.sessions.makeAsyncIterator()
            #expect(try await h.patch(id, #"{"proxy":"http://user:pw@10.1.2.3:3128"}"#).status == 200)
            var count = h.node.upstream.sessionCount
            _ = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"device_id":"\#(id.lowercase)","mode":"soft"}"#)
            try await h.waitForSession(node: 0, beyond: count)
            let through = try #require(await sessions.next())
            #expect(through.proxy == ProxyConfiguration(kind: .httpConnect, host: "10.1.2.3", port: 3128, username: "user", password: "pw"))

            #expect(try await h.patch(id, #"{"proxy":null}"#).status == 200)
            count = h.node.upstream.sessionCount
            _ = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"device_id":"\#(id.lowercase)","mode":"soft"}"#)
            try await h.waitForSession(node: 0, beyond: count)
            let direct = try #require(await sessions.next())
            #expect(direct.proxy == nil)

            #expect(try await h.patch(id, #"{"proxy":"socks5://10.1.2.3:1080"}"#).status == 200)
            _ = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"device_id":"\#(id.lowercase)","mode":"logout"}"#)
            #expect(try await h.store.loadCredentials(deviceID: id, kind: "device") == nil)
            #expect(try await h.store.loadCredentials(deviceID: id, kind: DeviceProxy.credentialKind) != nil)
            let shown = try await h.request(.GET, "/devices/\(id.lowercase)", host: h.acme.host, token: h.acme.token)
            #expect((shown.json["proxy"] as? [String: any Sendable])?["scheme"] as? String == "socks5")
        }
    }

    @Test func aDeviceWhoseProxyCannotBeReadIsNotConnectedAroundIt() async throws {
        try await APIHarness.run { h in
            let id = try await h.onlineDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            #expect(try await h.patch(id, #"{"proxy":"socks5://10.1.2.3:1080"}"#).status == 200)
            // Sealed under a key this gateway does not have.
            try await h.pool.query("UPDATE device_credentials SET key_id = 'gone' WHERE device_id = $1 AND kind = 'proxy'", [id])
            let before = h.node.upstream.sessionCount
            _ = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"device_id":"\#(id.lowercase)","mode":"soft"}"#)
            try await eventually("backing off") { try await h.store.device(id)?.state.kind == .backoff }
            #expect(h.node.upstream.sessionCount == before)
            let shown = try await h.request(.GET, "/devices/\(id.lowercase)", host: h.acme.host, token: h.acme.token)
            let last = try #require(shown.json["last_disconnect"] as? [String: any Sendable])
            #expect(last["stage"] as? String == "proxy")
            #expect(last["decision"] as? String == "backoff")
        }
    }

    // MARK: Delete

    @Test func deletingLogsOutThroughTheOwnerRemovesEverythingButTheHistory() async throws {
        try await APIHarness.run(instances: ["a", "b"]) { h in
            let (id, session) = try await h.connectedDevice(h.acme, jid: "15551234567:4@s.whatsapp.net", node: 0)
            #expect(try await h.patch(id, #"{"proxy":"socks5://10.1.2.3:1080","labels":{"k":"v"}}"#).status == 200)
            let history = try await h.pool.query("SELECT count(*)::bigint FROM state_transitions WHERE device_id = $1", [id])[0].decode(0, as: Int.self)

            let deleted = try await h.request(.DELETE, "/devices/\(id.lowercase)", host: h.acme.host, token: h.acme.token, node: 1)
            #expect(deleted.status == 204, "\(deleted.body)")
            #expect(session.didLogOut)
            for path in ["/devices/\(id.lowercase)", "/devices/\(id.lowercase)/history"] {
                #expect(try await h.request(.GET, path, host: h.acme.host, token: h.acme.token).status == 404)
            }
            #expect(try await h.request(.DELETE, "/devices/\(id.lowercase)", host: h.acme.host, token: h.acme.token).status == 404)
            #expect(try await h.store.device(id) == nil)
            #expect(try await h.pool.query("SELECT 1 FROM device_credentials WHERE device_id = $1", [id]).isEmpty)
            #expect(try await h.pool.query("SELECT 1 FROM pairing_sessions WHERE device_id = $1", [id]).isEmpty)
            // The history stays (the logout added its transition), with a tombstone saying whose it was.
            let kept = try await h.pool.query("SELECT count(*)::bigint FROM state_transitions WHERE device_id = $1", [id])[0].decode(0, as: Int.self)
            #expect(kept == history + 1)
            #expect(try await h.pool.query("SELECT count(*)::bigint FROM disconnects WHERE device_id = $1", [id])[0].decode(0, as: Int.self) >= 1)
            let tombstone = try await h.pool.query("SELECT tenant_id, instance FROM deleted_devices WHERE id = $1", [id])
            #expect(try tombstone.first?.decode(0, as: UUID.self) == h.acme.id)
            #expect(try tombstone.first?.decode(1, as: String.self) == "b")
            let listed = try await h.request(.GET, "/devices", host: h.acme.host, token: h.acme.token)
            #expect((listed.json["devices"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func deletingAPairingDeviceCancelsItsPairingFirst() async throws {
        try await APIHarness.run { h in
            let (reply, _) = try await h.startQRPairing(h.acme)
            let id = try #require(reply.json["device_id"] as? String)
            let pairingID = try #require((reply.json["pairing_id"] as? String).flatMap(UUID.init(uuidString:)))
            #expect(try await h.request(.DELETE, "/devices/\(id)", host: h.beta.host, token: h.beta.token).status == 404)
            #expect(try await h.request(.DELETE, "/devices/\(id)", host: h.acme.host, token: h.acme.token).status == 204)
            #expect(try await h.store.pairing(pairingID) == nil)
            let status = try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token)
            #expect(status.json["active_pairing"] == nil)
            // The tenant can pair again at once.
            let (again, _) = try await h.startQRPairing(h.acme)
            #expect(again.status == 201)
        }
    }
}

extension APIHarness {
    /// PATCH /devices/{id} as the tenant that owns acme's devices.
    func patch(_ id: UUID, _ json: String) async throws -> Reply {
        try await request(.PATCH, "/devices/\(id.lowercase)", host: acme.host, token: acme.token, json: json)
    }
}

extension UUID {
    /// The form the API writes.
    var lowercase: String { uuidString.lowercased() }
}
