@testable import AdminAPI
import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing

/// Host and token lookups under junk: unknown values are cached apart from known ones and
/// evicted least recently used first, and lookups that miss the cache are bounded: a few callers
/// wait in line for a short while, the rest are refused at once.
@Suite("Tenant directory under load", .requiresDatabase)
struct TenantDirectoryTests {
    private func withTenants(_ body: (PostgresPool, TenantStore, UUID) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            let tenants = TenantStore(pool: pool)
            let acme = try await tenants.create(name: "Acme", hosts: ["acme.example"]).tenant.id
            try await body(pool, tenants, acme)
            await pool.close()
        }
    }

    @Test func aFloodOfUnknownHostsDoesNotEvictKnownTenants() async throws {
        try await withTenants { pool, tenants, acme in
            let directory = TenantDirectory(store: tenants, ttl: .seconds(60), capacity: 2)
            #expect(try await directory.binding(host: "acme.example")?.tenantID == acme)
            for n in 0..<5 { #expect(try await directory.binding(host: "junk\(n).example") == nil) }
            // Behind the directory's back (no invalidation) the host goes: the cached binding still answers.
            try await pool.query("DELETE FROM tenant_hosts WHERE host = 'acme.example'")
            #expect(try await directory.binding(host: "acme.example")?.tenantID == acme)
        }
    }

    @Test func unknownHostsAreForgottenLeastRecentlyUsedFirst() async throws {
        try await withTenants { _, tenants, _ in
            let directory = TenantDirectory(store: tenants, ttl: .seconds(60), capacity: 2)
            #expect(try await directory.binding(host: "u1.example") == nil)
            #expect(try await directory.binding(host: "u2.example") == nil)
            #expect(try await directory.binding(host: "u1.example") == nil)
            #expect(try await directory.binding(host: "u3.example") == nil)
            // Both get a tenant now, behind the directory's back.
            _ = try await tenants.create(name: "U1", hosts: ["u1.example"])
            let u2 = try await tenants.create(name: "U2", hosts: ["u2.example"]).tenant.id
            // u1 was used more recently than u2: it is still remembered as unknown, u2 was evicted.
            #expect(try await directory.binding(host: "u1.example") == nil)
            #expect(try await directory.binding(host: "u2.example")?.tenantID == u2)
        }
    }

    /// Runs `body` while host lookups hang behind a table lock, one of them (`slow.example`)
    /// already holding `directory`'s only slot.
    private func whileTheSlotIsTaken(
        _ pool: PostgresPool, _ directory: TenantDirectory, _ body: () async throws -> Void
    ) async throws {
        let held = try await HeldTransaction.begin(url: pool.configuration.url) { connection in
            try connection.execute(script: "LOCK TABLE tenant_hosts IN ACCESS EXCLUSIVE MODE")
        }
        let slow = Task { try await directory.binding(host: "slow.example") }
        do {
            try await eventually("the first lookup waits") { try await HeldTransaction.lockWaiters(pool) == 1 }
            try await body()
        } catch {
            try await held.commit()
            throw error
        }
        try await held.commit()
        #expect(try await slow.value == nil)
    }

    @Test func lookupsBeyondTheLimitAndTheLineAreRefusedAtOnce() async throws {
        try await withTenants { pool, tenants, acme in
            let directory = TenantDirectory(store: tenants, ttl: .seconds(60), maximumLookups: 1, maximumWaiting: 0, lookupWait: .seconds(60))
            #expect(try await directory.binding(host: "acme.example")?.tenantID == acme)
            try await whileTheSlotIsTaken(pool, directory) {
                let clock = ContinuousClock()
                let started = clock.now
                await #expect(throws: TenantDirectory.Overloaded.self) { _ = try await directory.binding(host: "other.example") }
                // At once, not after the 60 s wait: the bound tells the two apart on a loaded machine.
                #expect(clock.now - started < .seconds(10))
                // What is cached needs no lookup.
                let cached = try await directory.binding(host: "acme.example")
                #expect(cached?.tenantID == acme)
            }
        }
    }

    @Test func aCallerInLineGetsTheSlotWhenTheLookupAheadEnds() async throws {
        try await withTenants { pool, tenants, acme in
            let directory = TenantDirectory(store: tenants, ttl: .seconds(60), maximumLookups: 1, maximumWaiting: 1, lookupWait: .seconds(60))
            var queued: Task<HostBinding?, any Error>?
            try await whileTheSlotIsTaken(pool, directory) {
                queued = Task { try await directory.binding(host: "acme.example") }
                try await eventually("the second caller waits in line") { directory.lookupsWaiting == 1 }
                // The line is full: a third is refused at once.
                await #expect(throws: TenantDirectory.Overloaded.self) { _ = try await directory.binding(host: "third.example") }
            }
            #expect(try await queued?.value?.tenantID == acme)
            #expect(directory.lookupsWaiting == 0)
        }
    }

    @Test func aCallerWaitingPastTheWaitIsRefused() async throws {
        try await withTenants { pool, tenants, _ in
            let directory = TenantDirectory(store: tenants, ttl: .seconds(60), maximumLookups: 1, lookupWait: .milliseconds(300))
            try await whileTheSlotIsTaken(pool, directory) {
                let clock = ContinuousClock()
                let started = clock.now
                await #expect(throws: TenantDirectory.Overloaded.self) { _ = try await directory.binding(host: "other.example") }
                #expect(clock.now - started >= .milliseconds(300))
                #expect(directory.lookupsWaiting == 0)
            }
        }
    }
}
