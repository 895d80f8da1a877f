import Foundation
import PairgateTestSupport
import PostgresClient
import Testing

@Suite("PostgreSQL pool", .requiresDatabase)
struct PoolTests {
    @Test func manyConcurrentQueriesShareASmallPool() async throws {
        try await TestDatabase.with { database in
            // 200 callers queue for 3 connections: on a loaded machine the last waits longer than
            // the default acquire timeout, which is not what this test is about.
            let pool = database.pool(maximumConnections: 3) { $0.acquireTimeout = .seconds(120) }
            let sums = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<200 {
                    group.addTask {
                        try await pool.query("SELECT $1::int8 + 1 AS next", [n])[0].decode("next", as: Int.self)
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(sums == (1...200).reduce(0, +))
            #expect(pool.counts.open <= 3)
            let backends: Int = try await pool.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )[0].decode(0)
            #expect(backends <= 3)
            await pool.close()
        }
    }

    @Test func everySupportedTypeRoundTripsInBinary() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let id = UUID()
            let when = Date(timeIntervalSince1970: 1_760_000_000.123456)
            let blob: [UInt8] = [0, 1, 2, 0, 255, 0]
            let row = try await pool.query(
                "SELECT $1::uuid, $2::timestamptz, $3::bytea, $4::text, $5::bool, $6::int8, $7::float8, $8::text IS NULL, $9::int4",
                [id, when, blob, "zürich ✓", true, Int64.min, 0.5, String?.none, Int32(-7)]
            )[0]
            #expect(try row.decode(0, as: UUID.self) == id)
            #expect(abs(try row.decode(1, as: Date.self).timeIntervalSince(when)) < 0.000_001)
            #expect(try row.decode(2, as: [UInt8].self) == blob)
            #expect(try row.decode(3, as: String.self) == "zürich ✓")
            #expect(try row.decode(4, as: Bool.self))
            #expect(try row.decode(5, as: Int64.self) == .min)
            #expect(try row.decode(6, as: Double.self) == 0.5)
            #expect(try row.decode(7, as: Bool.self))
            #expect(try row.decode(8, as: Int.self) == -7)
            let null = try await pool.query("SELECT NULL::text")[0]
            #expect(try null.decode(0, as: String?.self) == nil)
            #expect(throws: PostgresError.self) { try null.decode(0, as: String.self) }
            await pool.close()
        }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await pool.query("CREATE TABLE notes (body text)")
            struct Abort: Error {}
            await #expect(throws: Abort.self) {
                try await pool.withTransaction { connection in
                    try connection.query("INSERT INTO notes VALUES ('kept?')")
                    throw Abort()
                }
            }
            let count: Int = try await pool.query("SELECT count(*) FROM notes")[0].decode(0)
            #expect(count == 0)
            _ = try await pool.withTransaction { try $0.query("INSERT INTO notes VALUES ('kept')") }
            #expect(try await pool.query("SELECT count(*) FROM notes")[0].decode(0, as: Int.self) == 1)
            await pool.close()
        }
    }

    @Test func uniqueViolationIsTypedAndNamesTheConstraintNotTheValue() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await pool.query("CREATE TABLE hosts (host text CONSTRAINT hosts_unique UNIQUE)")
            try await pool.query("INSERT INTO hosts VALUES ($1)", ["secret-host.example"])
            let error = await #expect(throws: PostgresError.self) {
                try await pool.query("INSERT INTO hosts VALUES ($1)", ["secret-host.example"])
            }
            #expect(error?.code == .uniqueViolation)
            #expect(error?.sqlState == "23505")
            #expect(error?.constraint == "hosts_unique")
            #expect(error.map { !$0.description.contains("secret-host") } == true)
            // The connection that saw the error is still good.
            #expect(try await pool.query("SELECT 1")[0].decode(0, as: Int.self) == 1)
            await pool.close()
        }
    }

    @Test func errorDescriptionsNeverQuoteParameters() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let error = await #expect(throws: PostgresError.self) {
                try await pool.query("SELECT $1::text::int", ["hunter2-password"])
            }
            #expect(error?.sqlState == "22P02")
            #expect(error.map { !$0.description.contains("hunter2") } == true)
            #expect(error.map { $0.debugDescription.contains("hunter2") } == true)
            await pool.close()
        }
    }

    @Test func exhaustedPoolTimesOutInsteadOfWaitingForever() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 1) { $0.acquireTimeout = .milliseconds(200) }
            // The holder keeps the only connection until the waiter has given up, however late
            // a loaded machine runs the waiter's timer (a server-side sleep could end first).
            let release = DispatchSemaphore(value: 0)
            async let holder: Void = pool.withConnection { _ in release.wait() }
            // Wait until the holder really has the only connection.
            while pool.counts.open == 0 || pool.counts.idle == 1 { await Task.yield() }
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
            #expect(error?.code == .poolTimeout)
            release.signal()
            try await holder
            #expect(try await pool.query("SELECT 1")[0].decode(0, as: Int.self) == 1)
            await pool.close()
        }
    }

    @Test func unreachableServerIsAConnectionFailureWithLibpqsReason() async throws {
        let port = try freeTCPPort()
        let pool = PostgresPool(
            configuration: .init(url: "postgresql://postgres@127.0.0.1:\(port)/x"),
            threadPool: TestDatabase.threadPool,
            logger: TestDatabase.logger
        )
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(error?.code == .connectionFailed)
        #expect(error.map { $0.description.contains("refused") } == true)
        #expect(pool.counts.open == 0)
        await pool.close()
    }

    @Test func closedPoolRefusesWork() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            try await pool.query("SELECT 1")
            await pool.close()
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
            #expect(error?.code == .poolClosed)
        }
    }
}
