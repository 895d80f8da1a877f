import AdminAPI
import Foundation
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import Testing

/// What callers who have not authenticated cost the database: lookups of unknown hosts and
/// tokens are bounded (the excess gets 503 after a short wait in line), /metrics reads device counts at most once
/// per interval, and /readyz is one bounded check whatever the number of callers.
@Suite("Unauthenticated load", .requiresDatabase)
struct UnauthenticatedLoadTests {
    /// Runs `body` while `statement` (a table lock) holds in a transaction of its own.
    private func whileHeld(_ pool: PostgresPool, _ statement: String, _ body: () async throws -> Void) async throws {
        let held = try await HeldTransaction.begin(url: pool.configuration.url) { try $0.execute(script: statement) }
        do {
            try await body()
        } catch {
            try await held.commit()
            throw error
        }
        try await held.commit()
    }

    @Test func lookupsBeyondTheLimitAreAnswered503AfterAShortWait() async throws {
        try await APIHarness.run(configure: {
            $0.maximumPendingLookups = 1
            $0.lookupWait = .milliseconds(200)
        }) { h in
            var first: Task<APIHarness.Reply, any Error>?
            try await whileHeld(h.pool, "LOCK TABLE tenant_hosts IN ACCESS EXCLUSIVE MODE") {
                first = Task { try await h.request(.GET, "/status", host: "first.flood.test", token: "pgt_random") }
                try await eventually("the first lookup waits") { try await HeldTransaction.lockWaiters(h.pool) == 1 }
                let clock = ContinuousClock()
                let started = clock.now
                let second = try await h.request(.GET, "/status", host: "second.flood.test", token: "pgt_random")
                // Refused after its short wait, not after the held lock (which only the test ends):
                // the bound tells the two apart with room for a loaded machine.
                #expect(clock.now - started < .seconds(10))
                #expect(second.status == 503)
                #expect(second.json["code"] as? String == "overloaded")
                #expect(second.header("Retry-After") == "1")
                #expect(second.header("Content-Type") == "application/problem+json")
            }
            // The first one was not refused: it waited for its lookup.
            #expect(try await first?.value.status == 404)
        }
    }

    @Test func deviceGaugesAreReadAtMostOncePerInterval() async throws {
        try await APIHarness.run { h in
            _ = try await h.startQRPairing(h.acme)
            let first = try await h.request(.GET, "/metrics", host: nil).body
            #expect(first.contains(#"pairgate_devices{state="pairing"} 1"#))
            // A device appears behind this instance's back (another instance, say).
            try await h.pool.query("INSERT INTO devices (tenant_id, state) VALUES ($1, 'logged_out')", [h.acme.id])
            let cached = try await h.request(.GET, "/metrics", host: nil).body
            #expect(cached.contains(#"pairgate_devices{state="logged_out"} 0.0"#))
            h.clock.advance(by: .seconds(10))
            let fresh = try await h.request(.GET, "/metrics", host: nil).body
            #expect(fresh.contains(#"pairgate_devices{state="logged_out"} 1.0"#))
        }
    }

    @Test func readinessIsOneBoundedCheckForAnyNumberOfCallers() async throws {
        try await APIHarness.run { h in
            #expect(try await h.request(.GET, "/readyz", host: nil).status == 200)
            h.clock.advance(by: .seconds(2))
            try await whileHeld(h.pool, "LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE") {
                let clock = ContinuousClock()
                let started = clock.now
                let replies = try await withThrowingTaskGroup(of: APIHarness.Reply.self, returning: [APIHarness.Reply].self) { group in
                    for _ in 0..<8 { group.addTask { try await h.request(.GET, "/readyz", host: nil) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(clock.now - started < .seconds(5))
                #expect(replies.allSatisfy { $0.status == 503 && $0.json["code"] as? String == "database_unavailable" })
                // One check waits for the database, not one per caller.
                #expect(try await HeldTransaction.lockWaiters(h.pool) == 1)
            }
            try await eventually("ready again", pause: .milliseconds(50)) {
                h.clock.advance(by: .seconds(2))
                return try await h.request(.GET, "/readyz", host: nil).status == 200
            }
        }
    }
}
