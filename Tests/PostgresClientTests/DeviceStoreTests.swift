import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WAClient

@Suite("Device store: leases, fencing, pairings", .requiresDatabase)
struct DeviceStoreTests {
    /// A migrated database with one tenant.
    private func withStore(_ body: (PostgresDeviceStore, PostgresPool, UUID) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenant = try await TenantStore(pool: pool).create(name: "Acme", hosts: ["acme.example"]).tenant.id
            try await body(PostgresDeviceStore(pool: pool), pool, tenant)
            await pool.close()
        }
    }

    private func makePairedDevice(_ store: PostgresDeviceStore, tenant: UUID, owner: String = "a") async throws -> Lease {
        let start = try await store.beginPairing(tenantID: tenant, deviceID: nil, name: "phone", method: .qr,
                                                 owner: owner, leaseTTL: .seconds(30), window: .seconds(180))
        try await store.recordTransition(start.lease, .init(from: .unpaired, to: .pairing(.qr), reason: "pair_requested"), instance: owner)
        try await store.recordTransition(start.lease, .init(from: .pairing(.qr), to: .paired, reason: "paired"), instance: owner)
        try await store.endPairing(start.pairingID, lease: start.lease, outcome: .paired, detail: nil)
        return start.lease
    }

    @Test func aLeaseHasOneOwnerUntilItExpires() async throws {
        try await withStore { store, _, tenant in
            let lease = try await makePairedDevice(store, tenant: tenant)
            #expect(try await store.acquireLease(deviceID: lease.deviceID, owner: "b", ttl: .seconds(30)) == nil)
            // The owner may take it again, with a new epoch.
            let (_, again) = try #require(try await store.acquireLease(deviceID: lease.deviceID, owner: "a", ttl: .seconds(30)))
            #expect(again.epoch == lease.epoch + 1)
            // An expired lease (ttl zero) is free for anyone.
            _ = try #require(try await store.acquireLease(deviceID: lease.deviceID, owner: "a", ttl: .zero))
            let (device, taken) = try #require(try await store.acquireLease(deviceID: lease.deviceID, owner: "b", ttl: .seconds(30)))
            #expect(device.leaseOwner == "b")
            #expect(taken.epoch == lease.epoch + 3)
        }
    }

    @Test func everyWriteOfAFormerOwnerIsFenced() async throws {
        try await withStore { store, pool, tenant in
            let old = try await makePairedDevice(store, tenant: tenant, owner: "a")
            try await store.releaseLease(old)
            let (_, new) = try #require(try await store.acquireLease(deviceID: old.deviceID, owner: "b", ttl: .seconds(30)))
            let transition = DeviceStateMachine.Transition(from: .paired, to: .connecting, reason: "connect_requested")
            await #expect(throws: LeaseLost(deviceID: old.deviceID)) { try await store.recordTransition(old, transition, instance: "a") }
            let reason = DisconnectReason(stage: .tcp, category: .network, detail: "refused")
            await #expect(throws: LeaseLost.self) { try await store.recordDisconnect(old, reason: reason, decision: .stop, instance: "a") }
            await #expect(throws: LeaseLost.self) { try await store.saveCredentials(old, kind: "device", sealed: .init(keyID: "k", bytes: [1])) }
            await #expect(throws: LeaseLost.self) { try await store.wipeCredentials(old) }
            await #expect(throws: LeaseLost.self) { try await store.saveAccount(old, jid: "1:2@s.whatsapp.net", lid: nil, platform: nil) }
            #expect(try await store.renewLeases([old], ttl: .seconds(30)).isEmpty)
            // The new owner writes normally.
            try await store.recordTransition(new, transition, instance: "b")
            #expect(try await store.device(old.deviceID)?.state == .connecting)
            let rows: Int = try await pool.query("SELECT count(*) FROM state_transitions WHERE device_id = $1 AND instance = 'a' AND to_state = 'connecting'", [old.deviceID])[0].decode(0)
            #expect(rows == 0)
        }
    }

    @Test func renewingExtendsOnlyLeasesStillHeldAtTheirEpoch() async throws {
        try await withStore { store, _, tenant in
            var leases: [Lease] = []
            for _ in 0..<3 {
                leases.append(try await makePairedDevice(store, tenant: tenant))
            }
            // Someone else took the second one.
            _ = try #require(try await store.acquireLease(deviceID: leases[1].deviceID, owner: "a", ttl: .zero))
            _ = try #require(try await store.acquireLease(deviceID: leases[1].deviceID, owner: "b", ttl: .seconds(30)))
            let renewed = try await store.renewLeases(leases, ttl: .seconds(60))
            #expect(renewed == [leases[0].deviceID, leases[2].deviceID])
        }
    }

    @Test func onePairingPerTenantAcrossInstances() async throws {
        try await withStore { store, _, tenant in
            let first = try await store.beginPairing(tenantID: tenant, deviceID: nil, name: nil, method: .qr,
                                                     owner: "a", leaseTTL: .seconds(30), window: .seconds(180))
            let error = await #expect(throws: PairingInProgress.self) {
                _ = try await store.beginPairing(tenantID: tenant, deviceID: nil, name: nil, method: .code,
                                                 owner: "b", leaseTTL: .seconds(30), window: .seconds(180))
            }
            #expect(error?.pairingID == first.pairingID)
            #expect(error?.deviceID == first.device.id)
            #expect(error?.expiresAt == first.deadline)
            // The refused attempt left no device behind.
            #expect(try await store.devices(tenantID: tenant).count == 1)
            try await store.endPairing(first.pairingID, lease: first.lease, outcome: .cancelled, detail: nil)
            _ = try await store.beginPairing(tenantID: tenant, deviceID: nil, name: nil, method: .code,
                                             owner: "b", leaseTTL: .seconds(30), window: .seconds(180))
        }
    }

    @Test func aPairingLeftByADeadOwnerEndsInterruptedAtItsDeadline() async throws {
        try await withStore { store, pool, tenant in
            // Owner "a" died mid-pairing: its lease expired, its deadline passed.
            let start = try await store.beginPairing(tenantID: tenant, deviceID: nil, name: nil, method: .qr,
                                                     owner: "a", leaseTTL: .zero, window: .zero)
            try await store.recordTransition(start.lease, .init(from: .unpaired, to: .pairing(.qr), reason: "pair_requested"), instance: "a")
            try await store.saveCredentials(start.lease, kind: "device", sealed: .init(keyID: "k", bytes: [1, 2]))
            #expect(try await store.interruptExpiredPairings(instance: "b") == 1)
            let pairing = try #require(try await store.pairing(start.pairingID))
            #expect(pairing.outcome == .interrupted)
            #expect(try await store.device(start.device.id)?.state == .unpaired)
            #expect(try await store.loadCredentials(deviceID: start.device.id, kind: "device") == nil)
            let history: [String] = try await pool.query(
                "SELECT from_state || '>' || to_state || ':' || reason FROM state_transitions WHERE device_id = $1 ORDER BY id", [start.device.id]
            ).map { try $0.decode(0) }
            #expect(history == ["unpaired>pairing:pair_requested", "pairing>unpaired:pairing_interrupted"])
            #expect(try await store.interruptExpiredPairings(instance: "b") == 0)
            #expect(try await store.openPairing(tenantID: tenant) == nil)
        }
    }

    @Test func statesRoundTripThroughTheirColumns() async throws {
        try await withStore { store, _, tenant in
            var lease = try await makePairedDevice(store, tenant: tenant)
            let until = Date(timeIntervalSince1970: 1_900_000_000)
            let states: [DeviceState] = [
                .connecting, .backoff(until: until, attempt: 4, reason: .serverError), .connecting, .online,
                .suspended(.clientOutdated(version: "2.3000.1045649367")), .connecting,
                .suspended(.temporaryBan(until: until)), .connecting, .suspended(.replaced), .loggedOut(reason: "logged_out"),
            ]
            var previous = DeviceState.paired
            for state in states {
                try await store.recordTransition(lease, .init(from: previous, to: state, reason: "test"), instance: "a")
                let stored = try #require(try await store.device(lease.deviceID))
                #expect(stored.state == state)
                previous = state
                lease.epoch = stored.leaseEpoch
            }
        }
    }

    @Test func claimableDevicesAreThoseWantingAConnectionWithAFreeLease() async throws {
        try await withStore { store, _, tenant in
            let held = try await makePairedDevice(store, tenant: tenant)
            let free = try await makePairedDevice(store, tenant: tenant)
            try await store.releaseLease(free)
            let unpaired = try await store.beginPairing(tenantID: tenant, deviceID: nil, name: nil, method: .qr,
                                                        owner: "a", leaseTTL: .zero, window: .seconds(180))
            let claimable = try await store.claimableDevices(after: nil, limit: 100)
            #expect(claimable == [free.deviceID])
            #expect(!claimable.contains(held.deviceID))
            #expect(!claimable.contains(unpaired.device.id))
        }
    }
}

@Suite("Master key rotation", .requiresDatabase)
struct KeyRotationTests {
    @Test func rotationReSealsEveryRowUnderTheNewKeyAndKeepsTheContent() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenant = try await TenantStore(pool: pool).create(name: "Acme", hosts: ["acme.example"]).tenant.id
            let store = PostgresDeviceStore(pool: pool)
            let old = try MasterKey(parsing: MasterKey.generate(id: "old"))
            let new = try MasterKey(parsing: MasterKey.generate(id: "new"))
            var devices: [(UUID, [UInt8])] = []
            for n in 0..<3 {
                let start = try await store.beginPairing(tenantID: tenant, deviceID: nil, name: nil, method: .qr, owner: "a",
                                                         leaseTTL: .seconds(30), window: .seconds(180))
                try await store.endPairing(start.pairingID, lease: start.lease, outcome: .cancelled, detail: nil)
                let secret = Array("device \(n) keys".utf8)
                try await store.saveCredentials(start.lease, kind: "device",
                                                sealed: CredentialSealer(current: old).tenant(tenant).seal(secret, deviceID: start.device.id, kind: "device"))
                devices.append((start.device.id, secret))
            }
            let rotated = try await store.resealAll(with: CredentialSealer(current: new, previous: [old]))
            #expect(rotated.resealed == 3)
            #expect(rotated.unreadable.isEmpty)
            for (device, secret) in devices {
                let sealed = try #require(try await store.loadCredentials(deviceID: device, kind: "device"))
                #expect(sealed.keyID == "new")
                #expect(try CredentialSealer(current: new).tenant(tenant).open(sealed, deviceID: device, kind: "device") == secret)
            }
            // Without the old key the rows cannot be opened, and they are reported, not lost.
            let third = try MasterKey(parsing: MasterKey.generate(id: "third"))
            let blind = try await store.resealAll(with: CredentialSealer(current: third))
            #expect(blind.resealed == 0)
            #expect(blind.unreadable.count == 3)
            #expect(try await store.loadCredentials(deviceID: devices[0].0, kind: "device")?.keyID == "new")
            await pool.close()
        }
    }

    @Test func rotationPagesPastABatchOfUnreadableRows() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenant = try await TenantStore(pool: pool).create(name: "Acme", hosts: ["acme.example"]).tenant.id
            let store = PostgresDeviceStore(pool: pool)
            let lost = try MasterKey(parsing: MasterKey.generate(id: "lost"))
            let old = try MasterKey(parsing: MasterKey.generate(id: "old"))
            let new = try MasterKey(parsing: MasterKey.generate(id: "new"))
            // The two lowest device ids were sealed under a key nobody has any more: a whole batch
            // of unreadable rows comes first, and the readable row after it must still be rotated.
            let ids = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000003"]
                .map { UUID(uuidString: $0)! }
            for (index, id) in ids.enumerated() {
                try await pool.query("INSERT INTO devices (id, tenant_id, state) VALUES ($1, $2, 'paired')", [id, tenant])
                let key = index < 2 ? lost : old
                let sealed = try CredentialSealer(current: key).tenant(tenant).seal(Array("keys \(index)".utf8), deviceID: id, kind: "device")
                try await pool.query("INSERT INTO device_credentials (device_id, kind, key_id, sealed) VALUES ($1, 'device', $2, $3)",
                                     [id, sealed.keyID, sealed.bytes])
            }
            let rotated = try await store.resealAll(with: CredentialSealer(current: new, previous: [old]), batchSize: 2)
            #expect(rotated.resealed == 1)
            #expect(rotated.unreadable.map(\.deviceID) == Array(ids[0..<2]))
            #expect(try await store.loadCredentials(deviceID: ids[2], kind: "device")?.keyID == "new")
            await pool.close()
        }
    }
}
