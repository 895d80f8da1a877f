import ArgumentParser
import PostgresClient
import PostgresStore

/// `pairgate migrate`: brings the database schema up to this build's migrations.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending database migrations (safe to run from several instances at once)."
    )

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Only report the schema's state; exit 1 unless it is current.")
    var status = false

    func run() async throws {
        let configuration = try await options.load()
        try await DatabaseRuntime.with(configuration, label: "pairgate.migrate") { runtime in
            let migrator = try PairgateSchema.migrator(pool: runtime.pool, logger: runtime.logger)
            if status {
                let state = try await migrator.status()
                print("applied: \(state.applied.map(String.init).joined(separator: ", "))")
                if !state.pending.isEmpty { print("pending: \(state.pending.map(String.init).joined(separator: ", "))") }
                if !state.edited.isEmpty { print("edited after being applied: \(state.edited.joined(separator: ", "))") }
                if !state.unknown.isEmpty { print("unknown to this build: \(state.unknown.map(String.init).joined(separator: ", "))") }
                print(state.isCurrent ? "schema is current" : "schema is NOT current")
                if !state.isCurrent { throw ExitCode.failure }
                return
            }
            let applied = try await migrator.migrate()
            let byVersion = Dictionary(uniqueKeysWithValues: migrator.migrations.map { ($0.version, $0) })
            for version in applied { print("applied \(byVersion[version]!.fileName)") }
            print("schema is current (\(migrator.migrations.count) migrations)")
        }
    }
}
