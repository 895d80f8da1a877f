import Foundation
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing

@Suite("Migrations", .requiresDatabase)
struct MigrationTests {
    @Test func schemaAppliesOnceAndARerunDoesNothing() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let migrator = try PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger)
            #expect(try await migrator.status().isCurrent == false)
            #expect(try await migrator.migrate() == PairgateSchema.migrations.map(\.version))
            #expect(try await migrator.migrate() == [])
            let status = try await migrator.status()
            #expect(status.isCurrent)
            #expect(status.applied == PairgateSchema.migrations.map(\.version))
            await pool.close()
        }
    }

    @Test func concurrentMigratorsApplyEachMigrationExactlyOnce() async throws {
        // Without the advisory lock both would see 1 and 2 pending and one would fail on
        // CREATE TABLE (no IF NOT EXISTS on purpose).
        let migrations = [
            Migration(version: 1, name: "slow_table", sql: "SELECT pg_sleep(0.3); CREATE TABLE a (x int);"),
            Migration(version: 2, name: "second", sql: "CREATE TABLE b (x int);"),
        ]
        try await TestDatabase.with { database in
            let pools = [database.pool(), database.pool()]
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for pool in pools {
                    group.addTask {
                        try await Migrator(pool: pool, migrations: migrations, logger: TestDatabase.logger).migrate()
                    }
                }
                return try await group.reduce(into: [[Int]]()) { $0.append($1) }
            }
            #expect(applied.sorted { $0.count < $1.count } == [[], [1, 2]])
            let rows: Int = try await pools[0].query("SELECT count(*) FROM schema_migrations")[0].decode(0)
            #expect(rows == 2)
            for pool in pools { await pool.close() }
        }
    }

    @Test func editedMigrationIsRefusedByName() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let original = Migration(version: 1, name: "create_widgets", sql: "CREATE TABLE widgets (id int);")
            try await Migrator(pool: pool, migrations: [original], logger: TestDatabase.logger).migrate()

            var edited = original
            edited.sql = "CREATE TABLE widgets (id bigint);"
            let later = Migration(version: 2, name: "more", sql: "CREATE TABLE more (id int);")
            let migrator = try Migrator(pool: pool, migrations: [edited, later], logger: TestDatabase.logger)
            let error = await #expect(throws: MigrationError.self) { try await migrator.migrate() }
            #expect(error?.code == .checksumMismatch)
            #expect(error?.migration == "0001_create_widgets.sql")
            #expect(error.map { $0.description.contains("0001_create_widgets.sql") } == true)
            // Refused before applying anything else.
            #expect(try await migrator.status().pending == [2])
            #expect(try await migrator.status().edited == ["0001_create_widgets.sql"])
            await pool.close()
        }
    }

    @Test func failingMigrationLeavesNothingBehind() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let broken = Migration(version: 1, name: "broken", sql: "CREATE TABLE half (id int); SELECT no_such_function();")
            let migrator = try Migrator(pool: pool, migrations: [broken], logger: TestDatabase.logger)
            await #expect(throws: PostgresError.self) { try await migrator.migrate() }
            #expect(try await pool.query("SELECT to_regclass('half') IS NULL")[0].decode(0, as: Bool.self))
            #expect(try await migrator.status().pending == [1])
            await pool.close()
        }
    }

    @Test func embeddedMigrationsAreExactlyTheFilesInMigrations() throws {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("migrations")
        let files = try Migration.load(directory: directory)
        #expect(files == PairgateSchema.migrations, "run ops/gen-migrations.sh after changing migrations/")
    }

    @Test func migrationFileNamesAreChecked() throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mig-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "SELECT 1;".write(to: directory.appendingPathComponent("first.sql"), atomically: true, encoding: .utf8)
        #expect(throws: MigrationError.self) { try Migration.load(directory: directory) }
    }
}
