import PairgateTestSupport
import PostgresClient
import Testing

/// Statements are named prepared statements of their connection, read back from the server's
/// pg_prepared_statements (which counts each statement's executions).
@Suite("Prepared statements", .requiresDatabase)
struct PreparedStatementTests {
    /// How often the server ran the prepared statement `sql` on the pool's only connection, or nil
    /// when it is not prepared there.
    private func executions(of sql: String, _ pool: PostgresPool) async throws -> Int? {
        try await pool.query(
            "SELECT (generic_plans + custom_plans)::int8 FROM pg_prepared_statements WHERE statement = $1", [sql]
        ).first?.decode(0, as: Int.self)
    }

    @Test func aStatementIsPreparedOnceAndReusedOnItsConnection() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 1)
            let sql = "SELECT $1::int8 + 1"
            for n in 0..<5 {
                #expect(try await pool.query(sql, [n])[0].decode(0, as: Int.self) == n + 1)
            }
            #expect(try await executions(of: sql, pool) == 5)
            let names: [String] = try await pool.query("SELECT name FROM pg_prepared_statements WHERE statement = $1", [sql]).map { try $0.decode(0) }
            #expect(names.count == 1)
            #expect(names.first?.hasPrefix("pgs_") == true)
            await pool.close()
        }
    }

    @Test func theSameSQLWithOtherParameterTypesIsAnotherStatement() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 1)
            // The server reads binary parameters by the types fixed at prepare time: an int4 bound
            // to the int8 statement would be refused.
            let sql = "SELECT $1::int8 * 2"
            #expect(try await pool.query(sql, [Int64(3)])[0].decode(0, as: Int.self) == 6)
            #expect(try await pool.query(sql, [Int32(4)])[0].decode(0, as: Int.self) == 8)
            #expect(try await pool.query(sql, [Int64?.none])[0].decode(0, as: Int?.self) == nil)
            let count: Int = try await pool.query("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", [sql])[0].decode(0)
            #expect(count == 3)
            await pool.close()
        }
    }

    @Test func aStatementDeallocatedBehindTheClientsBackIsPreparedAgain() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 1)
            let sql = "SELECT $1::text || '!'"
            #expect(try await pool.query(sql, ["a"])[0].decode(0, as: String.self) == "a!")
            try await pool.withConnection { try $0.execute(script: "DEALLOCATE ALL") }
            #expect(try await pool.query(sql, ["b"])[0].decode(0, as: String.self) == "b!")
            #expect(try await executions(of: sql, pool) == 1)
            await pool.close()
        }
    }

    @Test func aResultTypeChangedByASchemaChangeIsPreparedAgain() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 1)
            try await pool.query("CREATE TABLE gadgets (id int8)")
            try await pool.query("INSERT INTO gadgets VALUES (1)")
            let sql = "SELECT * FROM gadgets"
            #expect(try await pool.query(sql).columns.count == 1)
            // A migration while the gateway runs: "cached plan must not change result type".
            try await pool.query("ALTER TABLE gadgets ADD COLUMN name text DEFAULT 'x'")
            let rows = try await pool.query(sql)
            #expect(rows.columns.map(\.name) == ["id", "name"])
            #expect(try rows[0].decode("name", as: String.self) == "x")
            await pool.close()
        }
    }

    @Test func insideATransactionAnOutdatedStatementFailsOnceThenIsPreparedAgain() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 1)
            try await pool.query("CREATE TABLE gadgets (id int8)")
            let sql = "SELECT * FROM gadgets"
            try await pool.query(sql)
            try await pool.query("ALTER TABLE gadgets ADD COLUMN name text")
            // The transaction is aborted by the error, so the statement cannot be retried in it.
            let error = await #expect(throws: PostgresError.self) {
                try await pool.withTransaction { try $0.query(sql) }
            }
            #expect(error?.sqlState == "0A000")
            let columns = try await pool.withTransaction { try $0.query(sql).columns.count }
            #expect(columns == 2)
            await pool.close()
        }
    }

    @Test func theCacheIsBoundedPerConnection() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 1) { $0.preparedStatementCacheSize = 3 }
            for n in 0..<10 {
                #expect(try await pool.query("SELECT \(n)::int8 + $1", [1])[0].decode(0, as: Int.self) == n + 1)
            }
            let prepared: Int = try await pool.query("SELECT count(*) FROM pg_prepared_statements")[0].decode(0)
            #expect(prepared <= 3)
            await pool.close()
        }
    }

    @Test func aCacheSizeOfZeroNeverPrepares() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 1) { $0.preparedStatementCacheSize = 0 }
            #expect(try await pool.query("SELECT $1::int8", [7])[0].decode(0, as: Int.self) == 7)
            let prepared: Int = try await pool.query("SELECT count(*) FROM pg_prepared_statements")[0].decode(0)
            #expect(prepared == 0)
            await pool.close()
        }
    }
}
