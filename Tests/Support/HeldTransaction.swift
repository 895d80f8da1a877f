import NIOPosix
import PostgresClient

/// A transaction on a connection of its own, left open until `commit()`: it holds the row locks
/// its statements took, as another instance's statement in flight would (a takeover about to
/// commit), or as a database that keeps one statement waiting (a renewal that hangs on a row).
public final class HeldTransaction: Sendable {
    private let connection: PostgresConnection

    private init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Opens a connection to `url`, begins, and runs `body` in the transaction.
    public static func begin(url: String, _ body: @escaping @Sendable (PostgresConnection) throws -> Void) async throws -> HeldTransaction {
        try await TestDatabase.threadPool.runIfActive {
            let connection = try PostgresConnection.connect(PostgresConfiguration(url: url))
            try connection.execute(script: "BEGIN")
            try body(connection)
            return HeldTransaction(connection: connection)
        }
    }

    /// Commits, releasing the locks, and closes the connection.
    public func commit() async throws {
        try await TestDatabase.threadPool.runIfActive { [connection] in
            defer { connection.close() }
            try connection.execute(script: "COMMIT")
        }
    }

    /// How many sessions of `pool`'s database wait for a lock right now.
    public static func lockWaiters(_ pool: PostgresPool) async throws -> Int {
        Int(try await pool.query(
            "SELECT count(*)::int8 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )[0].decode(0, as: Int64.self))
    }
}
