import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Synchronization
import Testing
import WAClient

/// Fenced writes against a takeover in flight, on a real PostgreSQL: another instance's
/// epoch bump that has not committed yet is held open in a transaction of its own.
@Suite("Fencing against a takeover in flight", .requiresDatabase)
struct FencingTests {
    private func withStore(_ body: (PostgresDeviceStore, PostgresPool, TestDatabase, UUID) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenant = try await TenantStore(pool: pool).create(name: "Acme", hosts: ["acme.example"]).tenant.id
            try await body(PostgresDeviceStore(pool: pool), pool, database, tenant)
            await pool.close()
        }
    }

    /// A device owned by "a", paired, its pairing ended.
    private func pairedDevice(_ store: PostgresDeviceStore, tenant: UUID) async throws -> Lease {
        let start = try await store.beginPairing(tenantID: tenant, deviceID: nil, name: nil, method: .qr,
                                                 owner: "a", leaseTTL: .seconds(30), window: .seconds(180))
        try await store.recordTransition(start.lease, .init(from: .unpaired, to: .pairing(.qr), reason: "pair_requested"), instance: "a")
        try await store.recordTransition(start.lease, .init(from: .pairing(.qr), to: .paired, reason: "paired"), instance: "a")
        try await store.endPairing(start.pairingID, lease: start.lease, outcome: .paired, detail: nil)
        return start.lease
    }

    /// Instance "b" takes the device over in a transaction that has not committed yet.
    private func takeoverInFlight(_ database: TestDatabase, device: UUID) async throws -> HeldTransaction {
        try await HeldTransaction.begin(url: database.url) { connection in
            try connection.query("UPDATE devices SET lease_owner = 'b', lease_epoch = lease_epoch + 1 WHERE id = $1", [device])
        }
    }

    /// Runs `write` while a takeover is in flight, then lets the takeover commit; returns how
    /// the write ended. A fence that does not lock the row reads the old epoch and succeeds.
    private func racingATakeover(
        _ database: TestDatabase, _ pool: PostgresPool, device: UUID, _ write: @escaping @Sendable () async throws -> Void
    ) async throws -> Result<Void, any Error> {
        let takeover = try await takeoverInFlight(database, device: device)
        let finished = Mutex(false)
        let racing = Task { () -> Result<Void, any Error> in
            defer { finished.withLock { $0 = true } }
            do { return .success(try await write()) } catch { return .failure(error) }
        }
        // Either the write waits for the takeover's row lock, or it went through without looking.
        try await eventually("the write finished or waits for the takeover", pause: .milliseconds(20)) {
            if finished.withLock({ $0 }) { return true }
            return try await HeldTransaction.lockWaiters(pool) > 0
        }
        try await takeover.commit()
        return await racing.value
    }

    @Test func aCredentialWriteRacingATakeoverWaitsForItAndIsFenced() async throws {
        try await withStore { store, pool, database, tenant in
            let lease = try await pairedDevice(store, tenant: tenant)
            let outcome = try await racingATakeover(database, pool, device: lease.deviceID) {
                try await store.saveCredentials(lease, kind: "device", sealed: SealedCredential(keyID: "k", bytes: [1, 2, 3]))
            }
            #expect(throws: LeaseLost(deviceID: lease.deviceID)) { try outcome.get() }
            #expect(try await store.loadCredentials(deviceID: lease.deviceID, kind: "device") == nil)
        }
    }

    @Test func aDisconnectRecordRacingATakeoverWaitsForItAndIsFenced() async throws {
        try await withStore { store, pool, database, tenant in
            let lease = try await pairedDevice(store, tenant: tenant)
            let reason = DisconnectReason(stage: .stream, category: .network, detail: "reset by peer")
            let outcome = try await racingATakeover(database, pool, device: lease.deviceID) {
                try await store.recordDisconnect(lease, reason: reason, decision: .stop, instance: "a")
            }
            #expect(throws: LeaseLost(deviceID: lease.deviceID)) { try outcome.get() }
            let rows: Int64 = try await pool.query("SELECT count(*)::int8 FROM disconnects WHERE device_id = $1", [lease.deviceID])[0].decode(0)
            #expect(rows == 0)
        }
    }

    @Test func pairingSessionWritesAreFencedByTheLeaseEpoch() async throws {
        try await withStore { store, pool, _, tenant in
            let start = try await store.beginPairing(tenantID: tenant, deviceID: nil, name: nil, method: .qr,
                                                     owner: "a", leaseTTL: .seconds(30), window: .seconds(180))
            try await store.noteCodeIssued(pairingID: start.pairingID, lease: start.lease, expiresAt: Date().addingTimeInterval(60))
            // "b" took the device over (a's lease had run out during a pause).
            try await pool.query("UPDATE devices SET lease_owner = 'b', lease_epoch = lease_epoch + 1 WHERE id = $1", [start.device.id])
            await #expect(throws: LeaseLost(deviceID: start.device.id)) {
                try await store.noteCodeIssued(pairingID: start.pairingID, lease: start.lease, expiresAt: Date().addingTimeInterval(60))
            }
            await #expect(throws: LeaseLost(deviceID: start.device.id)) {
                try await store.endPairing(start.pairingID, lease: start.lease, outcome: .timeout, detail: "refs exhausted")
            }
            let session = try #require(try await store.pairing(start.pairingID))
            #expect(session.endedAt == nil)
            #expect(session.qrCount == 1)
            // The owner of the current epoch ends it.
            let current = try #require(try await store.device(start.device.id))
            let lease = Lease(deviceID: current.id, owner: "b", epoch: current.leaseEpoch)
            try await store.endPairing(start.pairingID, lease: lease, outcome: .interrupted, detail: nil)
            #expect(try await store.pairing(start.pairingID)?.outcome == .interrupted)
            // Ending an ended session again changes nothing and is not a lost lease.
            try await store.endPairing(start.pairingID, lease: lease, outcome: .cancelled, detail: nil)
            #expect(try await store.pairing(start.pairingID)?.outcome == .interrupted)
        }
    }

    @Test func claimableDevicesArePagedByID() async throws {
        try await withStore { store, _, _, tenant in
            var free: [UUID] = []
            for _ in 0..<5 {
                let lease = try await pairedDevice(store, tenant: tenant)
                try await store.releaseLease(lease)
                free.append(lease.deviceID)
            }
            free.sort()
            let first = try await store.claimableDevices(after: nil, limit: 2)
            #expect(first == Array(free[0..<2]))
            let second = try await store.claimableDevices(after: first.last, limit: 2)
            #expect(second == Array(free[2..<4]))
            #expect(try await store.claimableDevices(after: second.last, limit: 2) == [free[4]])
        }
    }
}
