import Crypto
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing

@Suite("Tenants", .requiresDatabase)
struct TenantStoreTests {
    @Test func createdTenantIsListedAndOnlyTheTokensHashIsStored() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let store = TenantStore(pool: pool)
            let created = try await store.create(name: "Acme", hosts: ["Acme.Example", "api.acme.example."])
            #expect(created.token.value.hasPrefix("pgt_"))
            #expect(created.token.value.count == 4 + 43)
            #expect(!String(describing: created.token).contains(created.token.value.dropFirst(4)))
            #expect(created.tenant.hosts == ["acme.example", "api.acme.example"])

            let stored: [UInt8] = try await pool.query("SELECT sha256 FROM tenant_tokens WHERE tenant_id = $1", [created.tenant.id])[0].decode(0)
            #expect(stored == Array(SHA256.hash(data: Data(created.token.value.utf8))))
            let anyClearToken: Bool = try await pool.query(
                "SELECT EXISTS (SELECT 1 FROM tenant_tokens WHERE encode(sha256, 'escape') LIKE '%pgt_%')"
            )[0].decode(0)
            #expect(!anyClearToken)

            let tenants = try await store.list()
            #expect(tenants.map(\.name) == ["Acme"])
            #expect(tenants.first?.hosts == ["acme.example", "api.acme.example"])
            #expect(tenants.first?.activeTokens == 1)
            await pool.close()
        }
    }

    @Test func aHostBelongsToOneTenant() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let store = TenantStore(pool: pool)
            _ = try await store.create(name: "Acme", hosts: ["acme.example"])
            let error = await #expect(throws: StoreError.self) {
                try await store.create(name: "Copycat", hosts: ["ACME.example"])
            }
            #expect(error?.code == .hostTaken)
            // The failed creation left no tenant behind.
            #expect(try await store.list().map(\.name) == ["Acme"])
            await pool.close()
        }
    }

    @Test func malformedHostsAndNamesAreRejectedBeforeTheDatabase() async throws {
        for bad in ["", "acme.example:8080", "has space.example", "-lead.example", "a..b", String(repeating: "a", count: 64) + ".example"] {
            #expect(throws: StoreError.self, "\(bad)") { try HostName.normalize(bad) }
        }
        #expect(try HostName.normalize("Demo.LocalHost.") == "demo.localhost")
        #expect(HostName.fromHeader("Demo.localhost:8080") == "demo.localhost")
        #expect(HostName.fromHeader("[::1]:8080") == nil)
        #expect(HostName.fromHeader("acme.example:http") == nil)
    }
}
