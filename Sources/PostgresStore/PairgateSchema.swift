import Logging
import PostgresClient

/// Pairgate's database schema: the migrations this build carries and how to apply them.
public enum PairgateSchema {
    /// A migrator for the embedded migrations.
    public static func migrator(pool: PostgresPool, logger: Logger) throws -> Migrator {
        try Migrator(pool: pool, migrations: migrations, logger: logger)
    }
}
