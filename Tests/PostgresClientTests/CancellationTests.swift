import Foundation
import PairgateTestSupport
import PostgresClient
import Testing

/// A call whose task is cancelled stops waiting for PostgreSQL at once: its connection is given
/// up (what the server sends next would belong to nobody) and the pool carries on.
@Suite("Cancelling a PostgreSQL call", .requiresDatabase)
struct CancellationTests {
    @Test func cancellingACallInterruptsItsWait() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 1)
            try await pool.query("SELECT 1")
            let monitor = database.pool(maximumConnections: 1)
            let sleeping = Task { try await pool.query("SELECT pg_sleep(30)") }
            try await eventually("the statement runs", pause: .milliseconds(20)) {
                try await monitor.query(
                    "SELECT count(*)::int8 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"
                )[0].decode(0, as: Int64.self) == 1
            }
            let clock = ContinuousClock()
            let cancelled = clock.now
            sleeping.cancel()
            await #expect(throws: CancellationError.self) { try await sleeping.value }
            #expect(clock.now - cancelled < .seconds(5))
            // The interrupted connection was not handed back; a fresh one serves the next call.
            #expect(try await pool.query("SELECT 2")[0].decode(0, as: Int.self) == 2)
            await pool.close()
            await monitor.close()
        }
    }
}
