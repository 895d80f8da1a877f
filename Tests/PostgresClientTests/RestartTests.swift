import Foundation
import PairgateTestSupport
import PostgresClient
import Testing

/// Runs against a cluster of its own so that restarting it disturbs no other test.
@Suite("PostgreSQL restarts", .requiresDatabase)
struct RestartTests {
    @Test func poolReplacesConnectionsKilledByARestart() async throws {
        let cluster = try await TemporaryCluster.start()
        var configuration = PostgresConfiguration(url: cluster.url)
        configuration.maximumConnections = 4
        let pool = PostgresPool(configuration: configuration, threadPool: TestDatabase.threadPool, logger: TestDatabase.logger)
        // Open several connections so that the pool holds idle ones across the restart.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { try await pool.query("SELECT pg_sleep(0.05)") } }
            try await group.waitForAll()
        }
        let pidBefore: Int32 = try await pool.query("SELECT pg_backend_pid()")[0].decode(0)

        try await cluster.restart()

        // Every idle connection is dead now; none of them may surface as an error.
        for _ in 0..<8 {
            #expect(try await pool.query("SELECT 1")[0].decode(0, as: Int.self) == 1)
        }
        let pidAfter: Int32 = try await pool.query("SELECT pg_backend_pid()")[0].decode(0)
        #expect(pidAfter != pidBefore)
        await pool.close()
    }

    @Test func aPreparedStatementIsPreparedAgainOnTheConnectionThatReplacesARestartedOne() async throws {
        let cluster = try await TemporaryCluster.start()
        var configuration = PostgresConfiguration(url: cluster.url)
        configuration.maximumConnections = 1
        let pool = PostgresPool(configuration: configuration, threadPool: TestDatabase.threadPool, logger: TestDatabase.logger)
        let sql = "SELECT $1::uuid"
        let id = UUID()
        #expect(try await pool.query(sql, [id])[0].decode(0, as: UUID.self) == id)

        try await cluster.restart()

        // The new backend has never seen the statement; the new connection's cache knows that.
        #expect(try await pool.query(sql, [id])[0].decode(0, as: UUID.self) == id)
        let executions: Int = try await pool.query(
            "SELECT (generic_plans + custom_plans)::int8 FROM pg_prepared_statements WHERE statement = $1", [sql]
        )[0].decode(0)
        #expect(executions == 1)
        await pool.close()
    }

    @Test func poolFailsWhileTheServerIsDownAndRecoversWhenItReturns() async throws {
        let cluster = try await TemporaryCluster.start()
        let pool = PostgresPool(configuration: .init(url: cluster.url), threadPool: TestDatabase.threadPool, logger: TestDatabase.logger)
        try await pool.query("SELECT 1")

        try await cluster.stop()
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(error?.code == .connectionFailed)

        try await cluster.start()
        #expect(try await pool.query("SELECT 1")[0].decode(0, as: Int.self) == 1)
        await pool.close()
    }

    @Test func listenerReestablishesListenAfterARestart() async throws {
        let cluster = try await TemporaryCluster.start()
        let configuration = PostgresConfiguration(url: cluster.url)
        let pool = PostgresPool(configuration: configuration, threadPool: TestDatabase.threadPool, logger: TestDatabase.logger)
        let listener = try PostgresListener(configuration: configuration, channels: ["pairgate_test"], logger: TestDatabase.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await listener.run() }
            var events = listener.events.makeAsyncIterator()
            #expect(await events.next() == .listening)

            try await cluster.restart()
            #expect(await events.next() == .listening)

            try await pool.notify(channel: "pairgate_test", payload: "after restart")
            guard case .notification(let notification) = await events.next() else {
                Issue.record("expected a notification")
                return
            }
            #expect(notification.payload == "after restart")
            group.cancelAll()
        }
        await pool.close()
    }
}
