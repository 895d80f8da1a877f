import FleetHarness
import Foundation
import PairgateTestSupport
import PostgresClient
import Synchronization
import Testing

/// The client against a real PostgreSQL whose traffic a proxy blackholes: every wait ends by a
/// deadline of the client's own. Elapsed times are checked against one generous upper bound only,
/// to tell "bounded" from "hangs": the calls here are configured to give up after 2–2.5 s, the
/// kernel would take minutes, and a loaded test machine adds seconds of queueing for the pool's
/// threads (the configured values themselves are read back from the socket in SocketOptionTests).
@Suite("PostgreSQL behind a blackholed network", .requiresDatabase)
struct PartitionTests {
    static let bound = Duration.seconds(30)

    /// A database of its own, reached through a proxy that can blackhole it.
    private func withProxy(_ body: (TestDatabase, BlackholeProxy, PostgresConfiguration) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            let proxy = BlackholeProxy()
            let port = try await proxy.start(upstreamHost: database.server.host, upstreamPort: database.server.port)
            var configuration = PostgresConfiguration(url: database.url(throughPort: port))
            configuration.connectTimeout = .seconds(2)
            do {
                try await body(database, proxy, configuration)
            } catch {
                await proxy.stop()
                throw error
            }
            await proxy.stop()
        }
    }

    private func makePool(_ configuration: PostgresConfiguration) -> PostgresPool {
        PostgresPool(configuration: configuration, threadPool: TestDatabase.threadPool, logger: TestDatabase.logger)
    }

    @Test func aQueryOnABlackholedConnectionFailsWithinTheResponseTimeout() async throws {
        try await withProxy { _, proxy, configuration in
            var configuration = configuration
            configuration.responseTimeout = .seconds(2)
            let pool = makePool(configuration)
            try await pool.query("SELECT 1")

            await proxy.blackhole()
            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 2") }
            // Not a reset (the proxy sends none) nor the kernel: the client's own deadline.
            #expect(error?.code == .timedOut)
            #expect(clock.now - started < Self.bound)
            // The silent connection was discarded, not returned to the pool.
            #expect(pool.counts.open == 0)

            await proxy.heal()
            let three: Int = try await pool.query("SELECT 3")[0].decode(0)
            #expect(three == 3)
            await pool.close()
        }
    }

    @Test func aTransactionOnABlackholedConnectionFailsWithinTheResponseTimeout() async throws {
        try await withProxy { _, proxy, configuration in
            var configuration = configuration
            configuration.responseTimeout = .seconds(2)
            let pool = makePool(configuration)
            try await pool.query("CREATE TABLE marks (n int8)")

            await proxy.blackhole()
            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: PostgresError.self) {
                try await pool.withTransaction { try $0.query("INSERT INTO marks VALUES ($1)", [1]) }
            }
            #expect(error?.code == .timedOut)
            // BEGIN times out, and nothing else waits: no ROLLBACK on the given-up connection.
            #expect(clock.now - started < Self.bound)

            await proxy.heal()
            #expect(try await pool.query("SELECT count(*) FROM marks")[0].decode(0, as: Int.self) == 0)
            await pool.close()
        }
    }

    @Test func connectingThroughABlackholeFailsWithinTheConnectTimeout() async throws {
        try await withProxy { _, proxy, configuration in
            let pool = makePool(configuration)
            await proxy.blackhole()
            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
            #expect(error?.code == .connectionFailed)
            #expect(clock.now - started < Self.bound)
            #expect(proxy.stats.held == 1)

            await proxy.heal()
            let one: Int = try await pool.query("SELECT 1")[0].decode(0)
            #expect(one == 1)
            await pool.close()
        }
    }

    @Test func eachPoolHasItsOwnStatementTimeout() async throws {
        try await TestDatabase.with { database in
            // A fleet-control pool with a short server-side limit beside a default one.
            let fleet = database.pool(maximumConnections: 1) {
                $0.statementTimeout = .milliseconds(200)
                // Far beyond it, so that only the server's cancel can end the statement here.
                $0.responseTimeout = .seconds(60)
            }
            let http = database.pool(maximumConnections: 1)
            let error = await #expect(throws: PostgresError.self) { try await fleet.query("SELECT pg_sleep(2)") }
            #expect(error?.code == .queryCanceled)
            // The server cancelled it before the client's deadline: the connection is still good.
            #expect(fleet.counts.open == 1)
            #expect(try await fleet.query("SELECT 1")[0].decode(0, as: Int.self) == 1)
            try await http.query("SELECT pg_sleep(0.5)")
            await fleet.close()
            await http.close()
        }
    }

    @Test func theListenerNoticesABlackholeAndListensAgainAfterHealing() async throws {
        try await withProxy { database, proxy, configuration in
            let listener = try PostgresListener(
                configuration: configuration, channels: ["partition_test"], logger: TestDatabase.logger,
                idleCheckInterval: .milliseconds(500), probeTimeout: .seconds(2)
            )
            let seen = SeenEvents()
            let direct = database.pool(maximumConnections: 1)
            let clock = ContinuousClock()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await listener.run() }
                group.addTask { for await event in listener.events { seen.events.withLock { $0.append(event) } } }
                let listening = { seen.events.withLock { $0.filter { $0 == .listening }.count } }
                try await eventually("listening", limit: .seconds(30), pause: .milliseconds(20)) { listening() == 1 }

                await proxy.blackhole()
                let started = clock.now
                // The probe goes unanswered; the listener gives the connection up and reconnects,
                // which the proxy holds.
                try await eventually("the listener reconnecting", limit: .seconds(30), pause: .milliseconds(20)) { proxy.stats.held >= 1 }
                #expect(clock.now - started < Self.bound)

                await proxy.heal()
                try await eventually("listening again", limit: .seconds(30), pause: .milliseconds(20)) { listening() == 2 }
                try await direct.notify(channel: "partition_test", payload: "after the partition")
                try await eventually("the notification", limit: .seconds(30), pause: .milliseconds(20)) {
                    seen.events.withLock { events in
                        events.contains { if case .notification(let n) = $0 { n.payload == "after the partition" } else { false } }
                    }
                }

                // Stopping in the middle of a partition returns at once (or, while a reconnect is
                // under way, within the connect timeout).
                await proxy.blackhole()
                let stopping = clock.now
                group.cancelAll()
                try await group.waitForAll()
                #expect(clock.now - stopping < Self.bound)
            }
            await direct.close()
        }
    }

    @Test func closingThePoolInterruptsACallHangingOnABlackhole() async throws {
        try await withProxy { _, proxy, configuration in
            var configuration = configuration
            configuration.responseTimeout = .seconds(600)
            let pool = makePool(configuration)
            try await pool.query("SELECT 1")
            await proxy.blackhole()
            let hanging = Task { try await pool.query("SELECT 2") }
            try await eventually("the call holds the connection", limit: .seconds(30)) { pool.counts.idle == 0 }

            let clock = ContinuousClock()
            let started = clock.now
            await pool.close(gracePeriod: .seconds(2))
            #expect(clock.now - started < Self.bound)
            let error = await #expect(throws: PostgresError.self) { try await hanging.value }
            #expect(error?.code == .poolClosed)
            #expect(clock.now - started < Self.bound)
            #expect(pool.counts.open == 0)
        }
    }

    @Test func closingAnIdlePoolDoesNotWaitForItsGracePeriod() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await pool.query("SELECT 1")
            let clock = ContinuousClock()
            let started = clock.now
            await pool.close(gracePeriod: .seconds(60))
            #expect(clock.now - started < Self.bound)
        }
    }
}

/// The listener's events as they arrive, for checks from the test's task.
private final class SeenEvents: Sendable {
    let events = Mutex<[PostgresListener.Event]>([])
}
