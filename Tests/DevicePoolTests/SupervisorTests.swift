import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WAClient

/// A migrated database with one tenant, a supervisor on a manual clock and a scripted upstream.
struct PoolHarness {
    let pool: PostgresPool
    let store: PostgresDeviceStore
    let tenant: UUID
    let clock: ManualClock
    let upstream: ScriptedUpstream
    let supervisor: Supervisor
    let events: EventBus
    let sealer: CredentialSealer

    static let sealer = CredentialSealer(current: try! MasterKey(parsing: MasterKey.generate(id: "test")))

    static func make(
        pool: PostgresPool, tenant: UUID, instance: String, clock: ManualClock = ManualClock(), upstream: ScriptedUpstream = ScriptedUpstream(),
        sealer: CredentialSealer = PoolHarness.sealer, configure: (inout PoolConfiguration) -> Void = { _ in }
    ) -> PoolHarness {
        let store = PostgresDeviceStore(pool: pool)
        var configuration = PoolConfiguration(instanceID: instance, webVersion: "2.3000.1045649367")
        configuration.rampPerSecond = 1000
        configuration.handoversPerMinute = 0
        configure(&configuration)
        // Pairing deadlines come from the database's clock; the bus forgets pairings by the wall's.
        let events = EventBus()
        let supervisor = Supervisor(
            configuration: configuration, store: store, connector: upstream, sealer: sealer, events: events,
            clock: clock, now: { clock.date }, logger: TestDatabase.logger
        )
        return PoolHarness(
            pool: pool, store: store, tenant: tenant, clock: clock, upstream: upstream, supervisor: supervisor, events: events, sealer: sealer
        )
    }

    /// A pairing's updates as a watcher on this instance sees them.
    func updates(_ ticket: PairingTicket) -> AsyncStream<PairingUpdate>.Iterator {
        events.pairings.watch(ticket.pairingID, deadline: ticket.deadline).updates.makeAsyncIterator()
    }

    /// Runs `body` with the supervisor running; shuts it down gracefully afterwards.
    func running(_ body: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await supervisor.run() }
            do {
                try await body()
            } catch {
                supervisor.shutdown()
                try await group.waitForAll()
                throw error
            }
            supervisor.shutdown()
            try await group.waitForAll()
        }
    }

    func state(_ device: UUID) async throws -> DeviceState? {
        try await store.device(device)?.state
    }

    func history(_ device: UUID) async throws -> [String] {
        try await pool.query(
            "SELECT from_state || '>' || to_state FROM state_transitions WHERE device_id = $1 ORDER BY id", [device]
        ).map { try $0.decode(0) }
    }

    func disconnects(_ device: UUID) async throws -> [String] {
        try await pool.query(
            "SELECT category || ':' || decision FROM disconnects WHERE device_id = $1 ORDER BY id", [device]
        ).map { try $0.decode(0) }
    }
}


func withPoolDatabase(_ body: (PostgresPool, UUID) async throws -> Void) async throws {
    try await TestDatabase.with { database in
        let pool = database.pool(maximumConnections: 8)
        try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
        let tenant = try await TenantStore(pool: pool).create(name: "Acme", hosts: ["acme.example"]).tenant.id
        try await body(pool, tenant)
        await pool.close()
    }
}

@Suite("Supervisor and connection actors", .requiresDatabase)
struct SupervisorTests {
    @Test func qrPairingStoresCredentialsBeforeAnsweringAndComesOnline() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            try await h.running {
                var sessions = h.upstream.sessions.makeAsyncIterator()
                let ticket = try await h.supervisor.startPairing(tenantID: tenant, method: .qr, name: "front desk")
                let pairing = try #require(await sessions.next())
                #expect(pairing.intent == .pair(.qr))
                var updates = h.updates(ticket)
                pairing.emit(.qr(code: "QR-1", validFor: .seconds(60)))
                guard case .qr("QR-1", _) = await updates.next() else { Issue.record("expected the QR"); return }

                let answer = await pairing.pairSuccess(jid: "15551234567:3@s.whatsapp.net")
                #expect((try? answer.get()) != nil)
                // When the pool answered, the credentials with the account were already stored.
                let sealed = try #require(try await h.store.loadCredentials(deviceID: ticket.deviceID, kind: "device"))
                let stored = try h.sealer.tenant(h.tenant).open(decoding: DeviceCredentials.self, from: sealed, deviceID: ticket.deviceID, kind: "device")
                #expect(stored.account?.jid == "15551234567:3@s.whatsapp.net")

                pairing.emit(.disconnected(DisconnectReason(stage: .stream, category: .restartRequired, code: 515, detail: "restart")))
                let login = try #require(await sessions.next())
                #expect(login.intent == .login)
                #expect(login.credentials.account?.jid == "15551234567:3@s.whatsapp.net")
                login.emit(.online(OnlineInfo(jid: "15551234567:3@s.whatsapp.net", lid: "99:3@lid", serverTimeOffset: .zero)))
                try await eventually("online") { try await h.state(ticket.deviceID) == .online }
                // The pool told each connection it was done with every event (their flow control).
                try await eventually("every event handled") { pairing.unhandledEvents == 0 && login.unhandledEvents == 0 }

                #expect(try await h.history(ticket.deviceID) == ["unpaired>pairing", "pairing>paired", "paired>connecting", "connecting>online"])
                let record = try await h.store.device(ticket.deviceID)
                #expect(record?.jid == "15551234567:3@s.whatsapp.net")
                #expect(record?.lid == "99:3@lid")
                #expect(record?.name == "front desk")
                let ended = try #require(try await h.store.pairing(ticket.pairingID))
                #expect(ended.outcome == .paired)
                #expect(ended.qrCount == 1)
                // The lock is free again.
                _ = try await h.supervisor.startPairing(tenantID: tenant, method: .qr)
            }
        }
    }

    @Test func aSecondPairingIsRefusedWhileOneRunsEvenOnAnotherInstance() async throws {
        try await withPoolDatabase { pool, tenant in
            let a = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            let b = PoolHarness.make(pool: pool, tenant: tenant, instance: "b")
            try await a.running {
                try await b.running {
                    let first = try await a.supervisor.startPairing(tenantID: tenant, method: .qr)
                    let sameInstance = await #expect(throws: PairingInProgress.self) {
                        _ = try await a.supervisor.startPairing(tenantID: tenant, method: .qr)
                    }
                    #expect(sameInstance?.pairingID == first.pairingID)
                    let otherInstance = await #expect(throws: PairingInProgress.self) {
                        _ = try await b.supervisor.startPairing(tenantID: tenant, method: .code(phoneNumber: "15551234567"))
                    }
                    #expect(otherInstance?.pairingID == first.pairingID)
                    #expect(otherInstance?.expiresAt == first.deadline)
                }
            }
        }
    }

    @Test func refsRunningOutEndsThePairingAsTimeoutAndFreesTheLock() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            try await h.running {
                var sessions = h.upstream.sessions.makeAsyncIterator()
                let ticket = try await h.supervisor.startPairing(tenantID: tenant, method: .qr)
                let pairing = try #require(await sessions.next())
                var updates = h.updates(ticket)
                pairing.emit(.disconnected(DisconnectReason(stage: .pairing, category: .pairingTimeout, detail: "refs exhausted")))
                #expect(await updates.next() == .ended(.timeout, detail: "pairing/pairing_timeout: refs exhausted"))
                try await eventually("unpaired") { try await h.state(ticket.deviceID) == .unpaired }
                #expect(try await h.store.loadCredentials(deviceID: ticket.deviceID, kind: "device") == nil)
                #expect(try await h.store.pairing(ticket.pairingID)?.outcome == .timeout)
                try await eventually("lease released") { try await h.store.device(ticket.deviceID)?.leaseOwner == nil }
                _ = try await h.supervisor.startPairing(tenantID: tenant, method: .qr)
            }
        }
    }

    @Test func resetCancelsAPairing() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            try await h.running {
                var sessions = h.upstream.sessions.makeAsyncIterator()
                let ticket = try await h.supervisor.startPairing(tenantID: tenant, method: .code(phoneNumber: "15551234567"))
                let pairing = try #require(await sessions.next())
                #expect(pairing.intent == .pair(.code(phoneNumber: "15551234567")))
                pairing.emit(.pairingCode("ABCD-EFGH", validFor: .seconds(160)))
                #expect(try await h.supervisor.reset(deviceID: ticket.deviceID, mode: .soft) == .applied(.unpaired))
                #expect(pairing.closeReason != nil)
                #expect(try await h.store.pairing(ticket.pairingID)?.outcome == .cancelled)
                #expect(try await h.supervisor.reset(deviceID: ticket.deviceID, mode: .logout) == .unchanged(.unpaired))
            }
        }
    }

    /// Pairs a device through the scripted upstream and brings it online; returns its id.
    func pairedOnline(_ h: PoolHarness, sessions: inout AsyncStream<ScriptedSession>.Iterator, jid: String) async throws -> (UUID, ScriptedSession) {
        let ticket = try await h.supervisor.startPairing(tenantID: h.tenant, method: .qr)
        let pairing = try #require(await sessions.next())
        _ = await pairing.pairSuccess(jid: jid)
        pairing.emit(.disconnected(DisconnectReason(stage: .stream, category: .restartRequired, code: 515, detail: "restart")))
        let login = try #require(await sessions.next())
        login.emit(.online(OnlineInfo(jid: jid, lid: nil, serverTimeOffset: .zero)))
        try await eventually("online") { try await h.state(ticket.deviceID) == .online }
        return (ticket.deviceID, login)
    }

    @Test func networkLossBacksOffAndLogoutStopsForGood() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            try await h.running {
                var sessions = h.upstream.sessions.makeAsyncIterator()
                let (device, online) = try await pairedOnline(h, sessions: &sessions, jid: "15551230001:2@s.whatsapp.net")
                online.emit(.disconnected(DisconnectReason(stage: .stream, category: .network, detail: "reset by peer")))
                try await eventually("backoff") { try await h.state(device)?.kind == .backoff }
                guard case .backoff(let until, 1, .network) = try await h.state(device) else { Issue.record("wrong backoff"); return }
                #expect(until.timeIntervalSince(h.clock.date) <= 2)
                h.clock.advance(by: .seconds(2))
                let again = try #require(await sessions.next())
                #expect(again.intent == .login)
                again.emit(.loggedOut(DisconnectReason(stage: .login, category: .loggedOut, code: 401, detail: "failure 401")))
                try await eventually("logged out") { try await h.state(device) == .loggedOut(reason: "logged_out") }
                try await eventually("credentials wiped") { try await h.store.loadCredentials(deviceID: device, kind: "device") == nil }
                #expect(try await h.disconnects(device) == ["restart_required:reconnect_now", "network:backoff", "logged_out:logged_out"])
                // Nothing reconnects a logged-out device, however long we wait.
                h.clock.advance(by: .seconds(3600))
                try await eventually("lease released") { try await h.store.device(device)?.leaseOwner == nil }
            }
            #expect(h.upstream.sessionCount == 3)
        }
    }

    @Test func shutdownRecordsShutdownAndReleasesEveryLease() async throws {
        try await withPoolDatabase { pool, tenant in
            let h = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            var device = UUID()
            var online: ScriptedSession?
            try await h.running {
                var sessions = h.upstream.sessions.makeAsyncIterator()
                (device, online) = try await pairedOnline(h, sessions: &sessions, jid: "15551230002:2@s.whatsapp.net")
            }
            #expect(online?.closeReason?.category == .shutdown)
            let record = try #require(try await h.store.device(device))
            #expect(record.state == .paired)
            #expect(record.leaseOwner == nil)
            #expect(try await h.disconnects(device).last == "shutdown:stop")
        }
    }

    @Test func anotherInstanceTakesOverAfterACrashWithoutANewScan() async throws {
        try await withPoolDatabase { pool, tenant in
            let a = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            // Instance a pairs a device, then dies without shutting down (its task is cancelled).
            let device = try await withThrowingTaskGroup(of: Void.self, returning: UUID.self) { group in
                group.addTask { try await a.supervisor.run() }
                var sessions = a.upstream.sessions.makeAsyncIterator()
                let (device, _) = try await self.pairedOnline(a, sessions: &sessions, jid: "15551230003:2@s.whatsapp.net")
                group.cancelAll()
                return device
            }
            #expect(try await a.store.device(device)?.leaseOwner == "a")
            // Its lease runs out.
            try await pool.query("UPDATE devices SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [device])

            let b = PoolHarness.make(pool: pool, tenant: tenant, instance: "b")
            try await b.running {
                var sessions = b.upstream.sessions.makeAsyncIterator()
                let login = try #require(await sessions.next())
                #expect(login.intent == .login)
                #expect(login.credentials.account?.jid == "15551230003:2@s.whatsapp.net")
                login.emit(.online(OnlineInfo(jid: "15551230003:2@s.whatsapp.net", lid: nil, serverTimeOffset: .zero)))
                try await eventually("online on b") {
                    let record = try await b.store.device(device)
                    return record?.leaseOwner == "b" && record?.state == .online
                }
            }
        }
    }

    @Test func aFormerOwnerStopsAtItsFirstFencedWrite() async throws {
        try await withPoolDatabase { pool, tenant in
            let a = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            try await a.running {
                var sessions = a.upstream.sessions.makeAsyncIterator()
                let (device, online) = try await pairedOnline(a, sessions: &sessions, jid: "15551230004:2@s.whatsapp.net")
                // Another instance steals the lease (as if a's lease had expired during a pause).
                try await pool.query("UPDATE devices SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [device])
                _ = try #require(try await a.store.acquireLease(deviceID: device, owner: "b", ttl: .seconds(30)))
                // a's next write (the disconnect below) is fenced: a closes and writes nothing.
                online.emit(.disconnected(DisconnectReason(stage: .stream, category: .network, detail: "blip")))
                try await eventually("a stopped the device") { !a.supervisor.ownedDevices.contains(device) }
                #expect(try await a.disconnects(device) == ["restart_required:reconnect_now"])
                #expect(try await a.store.device(device)?.leaseOwner == "b")
            }
        }
    }

    @Test func renewalLossClosesTheConnection() async throws {
        try await withPoolDatabase { pool, tenant in
            let a = PoolHarness.make(pool: pool, tenant: tenant, instance: "a")
            try await a.running {
                var sessions = a.upstream.sessions.makeAsyncIterator()
                let (device, online) = try await pairedOnline(a, sessions: &sessions, jid: "15551230005:2@s.whatsapp.net")
                try await pool.query("UPDATE devices SET lease_epoch = lease_epoch + 1 WHERE id = $1", [device])
                a.clock.advance(by: a.supervisor.configuration.renewInterval)
                try await eventually("connection closed") { online.closeReason != nil }
                #expect(online.closeReason?.detail == "lease lost")
            }
        }
    }
}
