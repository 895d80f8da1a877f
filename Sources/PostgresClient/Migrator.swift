import Crypto
import Foundation
import Logging

/// One numbered schema change: the SQL of `migrations/NNNN_name.sql`.
public struct Migration: Sendable, Hashable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The file name it comes from, used in every message about it.
    public var fileName: String { String(format: "%04d_%@.sql", version, name) }

    /// SHA-256 of the SQL text, hex: what is recorded when applied and compared afterwards.
    public var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads `NNNN_name.sql` files of a folder, ordered by number; anything else is an error.
    public static func load(directory: URL) throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        var migrations: [Migration] = []
        for file in names where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"),
                  let version = Int(stem[..<underscore]), version > 0
            else {
                throw MigrationError(.badFileName, migration: file)
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        return try ordered(migrations)
    }

    /// Sorts by version and refuses duplicates.
    public static func ordered(_ migrations: [Migration]) throws -> [Migration] {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.version == b.version {
            throw MigrationError(.duplicateVersion, migration: b.fileName)
        }
        return sorted
    }
}

/// A schema migration problem that needs a human; says which migration.
public struct MigrationError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case checksumMismatch = "migration_edited"
        case badFileName = "migration_bad_file_name"
        case duplicateVersion = "migration_duplicate_version"
    }
    public var code: Code
    public var migration: String

    public init(_ code: Code, migration: String) {
        self.code = code
        self.migration = migration
    }

    public var description: String {
        switch code {
        case .checksumMismatch:
            "migration \(migration) was edited after it was applied (its checksum differs from the one recorded); restore the applied version and put the change in a new migration"
        case .badFileName:
            "migration file \(migration) is not named NNNN_name.sql"
        case .duplicateVersion:
            "two migrations share the number of \(migration)"
        }
    }
}

/// Where the database stands against the migrations this build carries.
public struct SchemaStatus: Sendable, Hashable {
    /// Versions recorded as applied.
    public var applied: [Int]
    /// Known versions not applied yet.
    public var pending: [Int]
    /// Applied versions whose file changed since.
    public var edited: [String]
    /// Applied versions this build does not know (a newer build migrated the database).
    public var unknown: [Int]

    /// Every known migration is applied unchanged.
    public var isCurrent: Bool { pending.isEmpty && edited.isEmpty }
}

/// Applies migrations in order, each in its own transaction, under a PostgreSQL advisory lock so
/// that instances starting together apply each migration once.
public struct Migrator: Sendable {
    /// An arbitrary constant shared by every Pairgate instance: "pairgate" in ASCII.
    static let advisoryLockKey: Int64 = 0x7061_6972_6761_7465

    public let migrations: [Migration]
    private let pool: PostgresPool
    private let logger: Logger

    public init(pool: PostgresPool, migrations: [Migration], logger: Logger) throws {
        self.pool = pool
        self.migrations = try Migration.ordered(migrations)
        self.logger = logger
    }

    /// Applies what is pending and returns the versions applied now. Refuses (before applying
    /// anything) if an applied migration was edited.
    @discardableResult
    public func migrate() async throws -> [Int] {
        let migrations = self.migrations
        let logger = self.logger
        return try await pool.withConnection { connection in
            try connection.query("SELECT pg_advisory_lock($1)", [Self.advisoryLockKey])
            defer { _ = try? connection.query("SELECT pg_advisory_unlock($1)", [Self.advisoryLockKey]) }
            try Self.createLedger(connection)
            let status = try Self.status(of: connection, migrations: migrations)
            if let edited = status.edited.first {
                throw MigrationError(.checksumMismatch, migration: edited)
            }
            if !status.unknown.isEmpty {
                logger.warning("the database has migrations this build does not know", metadata: ["versions": "\(status.unknown)"])
            }
            var appliedNow: [Int] = []
            for migration in migrations where status.pending.contains(migration.version) {
                try connection.execute(script: "BEGIN")
                do {
                    try connection.execute(script: migration.sql)
                    try connection.query(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        [migration.version, migration.name, migration.checksum]
                    )
                    try connection.execute(script: "COMMIT")
                } catch {
                    if !connection.isBroken { try? connection.execute(script: "ROLLBACK") }
                    throw error
                }
                logger.info("applied migration", metadata: ["migration": "\(migration.fileName)"])
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }

    /// Compares the database with the known migrations without changing anything.
    public func status() async throws -> SchemaStatus {
        let migrations = self.migrations
        return try await pool.withConnection { connection in
            let exists: Bool = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL")[0].decode(0)
            guard exists else {
                return SchemaStatus(applied: [], pending: migrations.map(\.version), edited: [], unknown: [])
            }
            return try Self.status(of: connection, migrations: migrations)
        }
    }

    private static func createLedger(_ connection: PostgresConnection) throws {
        try connection.execute(script: """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
    }

    private static func status(of connection: PostgresConnection, migrations: [Migration]) throws -> SchemaStatus {
        let rows = try connection.query("SELECT version, checksum FROM schema_migrations ORDER BY version")
        var recorded: [Int: String] = [:]
        for row in rows {
            recorded[try row.decode(0, as: Int.self)] = try row.decode(1, as: String.self)
        }
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        return SchemaStatus(
            applied: recorded.keys.sorted(),
            pending: migrations.map(\.version).filter { recorded[$0] == nil },
            edited: migrations.filter { migration in
                recorded[migration.version].map { $0 != migration.checksum } ?? false
            }.map(\.fileName),
            unknown: recorded.keys.filter { known[$0] == nil }.sorted()
        )
    }
}
