import DevicePool
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing

@Suite("History retention", .requiresDatabase)
struct HistoryRetentionTests {
    /// A migrated database with one tenant and `devices` devices; returns their ids.
    private func withDevices(_ count: Int, _ body: (PostgresDeviceStore, PostgresPool, [UUID]) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 4)
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenant = try await TenantStore(pool: pool).create(name: "Acme", hosts: ["acme.example"]).tenant.id
            let ids: [UUID] = try await pool.query(
                "INSERT INTO devices (tenant_id) SELECT $1 FROM generate_series(1, $2) RETURNING id", [tenant, Int64(count)]
            ).map { try $0.decode(0) }
            try await body(PostgresDeviceStore(pool: pool), pool, ids)
            await pool.close()
        }
    }

    private func addTransitions(_ pool: PostgresPool, _ device: UUID, count: Int, daysAgo: Int) async throws {
        try await pool.query("""
            INSERT INTO state_transitions (device_id, from_state, to_state, instance, at)
            SELECT $1, 'paired', 'connecting', 'a', now() - make_interval(days => $2::int4, secs => n)
            FROM generate_series(1, $3) AS n
            """, [device, Int32(daysAgo), Int64(count)])
    }

    private func addDisconnects(_ pool: PostgresPool, _ device: UUID, count: Int, daysAgo: Int) async throws {
        try await pool.query("""
            INSERT INTO disconnects (device_id, stage, category, decision, instance, at)
            SELECT $1, 'stream', 'network', 'backoff', 'a', now() - make_interval(days => $2::int4, secs => n)
            FROM generate_series(1, $3) AS n
            """, [device, Int32(daysAgo), Int64(count)])
    }

    private func count(_ pool: PostgresPool, _ table: String, _ device: UUID, olderThanDays days: Int) async throws -> Int {
        try await pool.query(
            "SELECT count(*) FROM \(table) WHERE device_id = $1 AND at < now() - make_interval(days => $2::int4)", [device, Int32(days)]
        )[0].decode(0)
    }

    @Test func rowsOlderThanTheRetentionGoInBatchesAndEachDevicesLastDisconnectStays() async throws {
        try await withDevices(2) { store, pool, ids in
            let (busy, quiet) = (ids[0], ids[1])
            try await addTransitions(pool, busy, count: 5, daysAgo: 100)
            try await addTransitions(pool, busy, count: 2, daysAgo: 1)
            try await addDisconnects(pool, busy, count: 4, daysAgo: 120)
            try await addDisconnects(pool, busy, count: 1, daysAgo: 2)
            // A device whose only disconnect is old: GET /status keeps showing it.
            try await addDisconnects(pool, quiet, count: 1, daysAgo: 200)

            var sweeps: [HistorySweep] = []
            while true {
                let sweep = try await store.deleteHistory(olderThan: .seconds(90 * 86400), batchSize: 2)
                sweeps.append(sweep)
                if sweep.deleted == 0 { break }
            }
            // Batches of at most two rows per table.
            #expect(sweeps.allSatisfy { $0.transitions <= 2 && $0.disconnects <= 2 })
            #expect(sweeps.map(\.transitions).reduce(0, +) == 5)
            #expect(sweeps.map(\.disconnects).reduce(0, +) == 4)
            #expect(try await count(pool, "state_transitions", busy, olderThanDays: 90) == 0)
            #expect(try await count(pool, "state_transitions", busy, olderThanDays: 0) == 2)
            #expect(try await count(pool, "disconnects", busy, olderThanDays: 0) == 1)
            #expect(try await count(pool, "disconnects", quiet, olderThanDays: 90) == 1)
            #expect(try await store.lastDisconnects(deviceIDs: [quiet])[quiet] != nil)
        }
    }

    @Test func instancesSweepingAtOnceShareTheWorkWithoutErrors() async throws {
        try await withDevices(4) { store, pool, ids in
            for id in ids {
                try await addTransitions(pool, id, count: 40, daysAgo: 95)
                try await addDisconnects(pool, id, count: 40, daysAgo: 95)
                try await addDisconnects(pool, id, count: 1, daysAgo: 1)
            }
            let other = PostgresDeviceStore(pool: pool)
            async let first = Self.sweepAll(store)
            async let second = Self.sweepAll(other)
            let (a, b) = try await (first, second)
            #expect(a.transitions + b.transitions == 160)
            #expect(a.disconnects + b.disconnects == 160)
            for id in ids {
                #expect(try await count(pool, "state_transitions", id, olderThanDays: 90) == 0)
                #expect(try await count(pool, "disconnects", id, olderThanDays: 0) == 1)
            }
        }
    }

    private static func sweepAll(_ store: PostgresDeviceStore) async throws -> HistorySweep {
        var total = HistorySweep(transitions: 0, disconnects: 0)
        while true {
            let sweep = try await store.deleteHistory(olderThan: .seconds(90 * 86400), batchSize: 7)
            if sweep.deleted == 0 { return total }
            total.transitions += sweep.transitions
            total.disconnects += sweep.disconnects
        }
    }
}
