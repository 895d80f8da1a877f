@testable import AdminAPI
import DevicePool
import Foundation
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WAClient

/// What keeps one tenant, or anyone, from growing the gateway without bound: event streams and
/// connections are capped, abandoned pairings do not pile up devices, /status comes in pages, and
/// a disabled tenant's devices stop even when the news of it was lost.
@Suite("Limits", .requiresDatabase)
struct LimitsTests {
    @Test func eventStreamsAreCappedPerTenantAndPerInstance() async throws {
        try await APIHarness.run(configure: {
            $0.streamsPerPairing = 10
            $0.streamsPerTenant = 2
            $0.streamsPerInstance = 3
        }) { h in
            let (acmePairing, acmeSession) = try await h.startQRPairing(h.acme)
            let acmeEvents = try #require(acmePairing.json["events_url"] as? String)
            var open: [EventStreamReader] = []
            for _ in 0..<2 {
                let stream = try await h.events(acmeEvents, host: h.acme.host, token: h.acme.token)
                #expect(stream.status == 200)
                open.append(stream)
            }
            let overTenant = try await h.request(.GET, acmeEvents, host: h.acme.host, token: h.acme.token)
            #expect(overTenant.status == 429)
            #expect(overTenant.header("Content-Type") == "application/problem+json")
            #expect(overTenant.json["code"] as? String == "too_many_streams")
            #expect(overTenant.header("Retry-After") != nil)

            let (betaPairing, _) = try await h.startQRPairing(h.beta)
            let betaEvents = try #require(betaPairing.json["events_url"] as? String)
            let third = try await h.events(betaEvents, host: h.beta.host, token: h.beta.token)
            #expect(third.status == 200)
            let overInstance = try await h.request(.GET, betaEvents, host: h.beta.host, token: h.beta.token)
            #expect(overInstance.status == 429)
            #expect(overInstance.json["code"] as? String == "too_many_streams")

            // Streams that end give their places back.
            acmeSession.emit(.disconnected(DisconnectReason(stage: .pairing, category: .pairingTimeout, detail: "refs ran out")))
            for stream in open { _ = try await stream.rest() }
            try await eventually("a place for beta again") {
                let reader = try await h.events(betaEvents, host: h.beta.host, token: h.beta.token)
                return reader.status == 200
            }
        }
    }

    @Test func eventStreamsAreCappedPerPairing() async throws {
        try await APIHarness.run(configure: { $0.streamsPerPairing = 1 }) { h in
            let (pairing, _) = try await h.startQRPairing(h.acme)
            let pageURL = try #require(pairing.json["page_url"] as? String)
            let page = try #require(URLComponents(string: pageURL)?.percentEncodedQuery)
            let first = try await h.events("/pair/events?\(page)", host: h.acme.host)
            #expect(first.status == 200)
            // The tenant's own token counts against the same pairing.
            let second = try await h.request(.GET, try #require(pairing.json["events_url"] as? String), host: h.acme.host, token: h.acme.token)
            #expect(second.status == 429)
            #expect(second.json["code"] as? String == "too_many_streams")
        }
    }

    @Test func theServerTakesNoMoreConnectionsThanItsCap() async throws {
        try await APIHarness.run(configureGateway: { $0.maximumConnections = 2 }) { h in
            let request = "GET /healthz HTTP/1.1\r\nHost: acme.example\r\n\r\n"
            var held: [RawConnection] = []
            for _ in 0..<2 {
                let connection = try await RawConnection(port: h.node.port)
                try await connection.send(request)
                try await eventually("an answer") { connection.received.contains("200 OK") }
                held.append(connection)
            }
            let third = try await RawConnection(port: h.node.port)
            try await third.send(request)
            // Observation window: the kernel queues the connection, the server does not read it.
            try await Task.sleep(for: .seconds(1))
            #expect(third.received.isEmpty)
            await held[0].close()
            try await eventually("the third answered once a place is free") { third.received.contains("200 OK") }
            await held[1].close()
            await third.close()
        }
    }

    @Test func pairingWithoutADeviceReusesTheTenantsUnpairedDevice() async throws {
        try await APIHarness.run(configure: { $0.pairBurst = 10 }) { h in
            var seen: Set<String> = []
            for round in 0..<3 {
                let (reply, session) = try await h.startQRPairing(h.acme, qr: "QR-\(round)")
                let deviceID = try #require(reply.json["device_id"] as? String)
                seen.insert(deviceID)
                // The phone never scans: the pairing ends, its device is unpaired again.
                session.emit(.disconnected(DisconnectReason(stage: .pairing, category: .pairingTimeout, detail: "refs ran out")))
                try await eventually("the pairing over and its device free") {
                    let device = try await h.store.device(try #require(UUID(uuidString: deviceID)))
                    return device?.state == .unpaired && device?.leaseOwner == nil
                }
            }
            #expect(seen.count == 1)
            #expect(try await h.store.devices(tenantID: h.acme.id).count == 1)
        }
    }

    @Test func statusComesInPagesFollowedByACursor() async throws {
        try await APIHarness.run { h in
            let ids: [UUID] = try await h.pool.query("""
                INSERT INTO devices (tenant_id, name, created_at)
                SELECT $1, 'd' || n, now() - make_interval(secs => 10 - n) FROM generate_series(1, 5) AS n
                RETURNING id
                """, [h.acme.id]).map { try $0.decode(0) }
            var listed: [String] = []
            var path = "/status?limit=2"
            var pages = 0
            while true {
                let page = try await h.request(.GET, path, host: h.acme.host, token: h.acme.token)
                #expect(page.status == 200)
                let devices = try #require(page.json["devices"] as? [[String: any Sendable]])
                #expect(devices.count <= 2)
                listed += devices.compactMap { $0["id"] as? String }
                pages += 1
                guard let next = page.json["next_cursor"] as? String else { break }
                path = "/status?limit=2&cursor=\(next)"
            }
            #expect(pages == 3)
            #expect(listed == ids.map { $0.uuidString.lowercased() })
            // Without a limit: one page of them all, as before.
            let all = try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token)
            #expect((all.json["devices"] as? [Any])?.count == 5)
            #expect(all.json["next_cursor"] == nil)

            let garbage = try await h.request(.GET, "/status?cursor=yesterday", host: h.acme.host, token: h.acme.token)
            #expect(garbage.status == 400)
            #expect(garbage.json["code"] as? String == "invalid_cursor")
            for limit in ["0", "1001", "-1"] {
                #expect(try await h.request(.GET, "/status?limit=\(limit)", host: h.acme.host, token: h.acme.token).status == 422)
            }
        }
    }

    @Test func aTenantDisabledBehindTheBussBackIsStoppedByThePeriodicCheck() async throws {
        // A recheck within the lease's deadline (TTL − margin, 20 s): a 30 s jump of the manual
        // clock would also pass the deadline, which closes devices without recording anything.
        try await APIHarness.run(configureGateway: { $0.tenantRecheckInterval = .seconds(10) }) { h in
            let (deviceID, _) = try await h.connectedDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            // Disabled without the fleet bus hearing of it (a lost NOTIFY).
            try await h.pool.query("UPDATE tenants SET disabled_at = now() WHERE id = $1", [h.acme.id])
            h.clock.advance(by: .seconds(10))
            try await eventually("the device stopped", limit: .seconds(20)) {
                !h.node.supervisor.ownedDevices.contains(deviceID)
            }
            #expect(try await h.store.device(deviceID)?.state == .paired)
        }
    }

    @Test func aTenantDisabledWhileTheListenerWasAwayIsStoppedWhenItListensAgain() async throws {
        try await APIHarness.run { h in
            let (deviceID, _) = try await h.connectedDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            try await h.pool.query("UPDATE tenants SET disabled_at = now() WHERE id = $1", [h.acme.id])
            // The fleet bus's LISTEN connection drops; it reconnects and listens again.
            try await h.pool.query("""
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND (query LIKE 'LISTEN%' OR query = 'SELECT 1')
                """)
            try await eventually("the device stopped", limit: .seconds(30), pause: .milliseconds(50)) {
                !h.node.supervisor.ownedDevices.contains(deviceID)
            }
        }
    }
}
