import FleetHarness
import Foundation
import PairgateTestSupport
import PostgresClient
import Testing

/// A caller's deadline (an HTTP request's) bounds every wait for PostgreSQL, below the pool's own
/// timeouts. The error's code tells the caller's deadline from the pool's own timeout (120 s here);
/// elapsed times are checked only against a bound far below that, so a loaded machine cannot fail
/// them.
@Suite("A caller's deadline bounds its database waits", .requiresDatabase)
struct DeadlineTests {
    @Test func aSilentServerIsWaitedForOnlyUntilTheCallersDeadline() async throws {
        try await TestDatabase.with { database in
            let proxy = BlackholeProxy()
            let port = try await proxy.start(upstreamHost: database.server.host, upstreamPort: database.server.port)
            var configuration = PostgresConfiguration(url: database.url(throughPort: port))
            // Only the caller's deadline can end the wait below within the test.
            configuration.responseTimeout = .seconds(120)
            let pool = PostgresPool(configuration: configuration, threadPool: TestDatabase.threadPool, logger: TestDatabase.logger)
            try await pool.query("SELECT 1")
            await proxy.blackhole()

            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: PostgresError.self) {
                try await PostgresDeadline.$current.withValue(started + .seconds(1)) {
                    try await pool.query("SELECT 2")
                }
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(clock.now - started < .seconds(60))
            // The connection given up mid-statement is gone, not back in the pool.
            #expect(pool.counts.open == 0)

            await proxy.heal()
            #expect(try await pool.query("SELECT 3")[0].decode(0, as: Int.self) == 3)
            await pool.close()
            await proxy.stop()
        }
    }

    @Test func aFullPoolIsWaitedForOnlyUntilTheCallersDeadline() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 1) { $0.acquireTimeout = .seconds(120) }
            let release = DispatchSemaphore(value: 0)
            async let holder: Void = pool.withConnection { _ in release.wait() }
            while pool.counts.open == 0 || pool.counts.idle == 1 { await Task.yield() }

            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: PostgresError.self) {
                try await PostgresDeadline.$current.withValue(started + .milliseconds(300)) {
                    try await pool.query("SELECT 1")
                }
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(clock.now - started < .seconds(60))
            // A deadline already past is refused at once, without taking a connection.
            release.signal()
            try await holder
            await #expect(throws: PostgresError.self) {
                try await PostgresDeadline.$current.withValue(clock.now - .seconds(1)) { try await pool.query("SELECT 1") }
            }
            #expect(try await pool.query("SELECT 1")[0].decode(0, as: Int.self) == 1)
            await pool.close()
        }
    }
}
