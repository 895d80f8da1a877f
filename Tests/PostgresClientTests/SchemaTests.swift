import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing

@Suite("Schema v1", .requiresDatabase)
struct SchemaTests {
    @Test func atMostOnePairingIsOpenPerTenant() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenant: UUID = try await pool.query("INSERT INTO tenants (name) VALUES ('Acme') RETURNING id")[0].decode(0)
            let device: UUID = try await pool.query("INSERT INTO devices (tenant_id) VALUES ($1) RETURNING id", [tenant])[0].decode(0)
            let open = "INSERT INTO pairing_sessions (tenant_id, device_id, method, instance, deadline) VALUES ($1, $2, 'qr', 'i1', now() + interval '3 minutes') RETURNING id"
            let first: UUID = try await pool.query(open, [tenant, device])[0].decode(0)
            let error = await #expect(throws: PostgresError.self) { try await pool.query(open, [tenant, device]) }
            #expect(error?.code == .uniqueViolation)
            #expect(error?.constraint == "pairing_sessions_one_open_per_tenant")
            try await pool.query("UPDATE pairing_sessions SET ended_at = now(), outcome = 'timeout' WHERE id = $1", [first])
            try await pool.query(open, [tenant, device])
            await pool.close()
        }
    }

    @Test func anEndedPairingNeedsAnOutcome() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenant: UUID = try await pool.query("INSERT INTO tenants (name) VALUES ('Acme') RETURNING id")[0].decode(0)
            let device: UUID = try await pool.query("INSERT INTO devices (tenant_id) VALUES ($1) RETURNING id", [tenant])[0].decode(0)
            let error = await #expect(throws: PostgresError.self) {
                try await pool.query(
                    "INSERT INTO pairing_sessions (tenant_id, device_id, method, instance, deadline, ended_at) VALUES ($1, $2, 'qr', 'i1', now(), now())",
                    [tenant, device]
                )
            }
            #expect(error?.code == .checkViolation)
            await pool.close()
        }
    }
}
