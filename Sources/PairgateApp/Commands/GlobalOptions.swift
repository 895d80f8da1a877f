import ArgumentParser
import Logging
import NIOPosix
import PostgresClient

/// Options every subcommand accepts; flags override environment and file.
struct GlobalOptions: ParsableArguments {
    @Option(help: "JSON configuration file (default: config/pairgate.json when it exists, or $PAIRGATE_CONFIG).")
    var config: String?

    @Option(name: .customLong("database-url"), help: "PostgreSQL URL, e.g. postgresql://user@127.0.0.1:5432/pairgate (or $PAIRGATE_DATABASE_URL).")
    var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    func load(_ extra: [String: String] = [:]) async throws -> PairgateConfiguration {
        var overrides = extra
        if let databaseURL { overrides["database.url"] = databaseURL }
        if let logLevel { overrides["log.level"] = logLevel }
        let configuration = try await PairgateConfiguration.load(file: config, overrides: overrides)
        bootstrapLogging(level: configuration.logLevel)
        return configuration
    }
}

private func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

/// The database side of a command: a started thread pool, the connection pool over it, and
/// the fleet-control pool (`pairgate serve`; it opens no connection unless used).
struct DatabaseRuntime: Sendable {
    let pool: PostgresPool
    let fleetPool: PostgresPool
    let threadPool: NIOThreadPool
    let closeGrace: Duration
    let logger: Logger

    init(_ configuration: PostgresConfiguration, fleet: PostgresConfiguration, closeGrace: Duration, logger: Logger) {
        // One thread per connection so blocking calls never queue behind each other.
        threadPool = NIOThreadPool(numberOfThreads: configuration.maximumConnections + fleet.maximumConnections)
        threadPool.start()
        pool = PostgresPool(configuration: configuration, threadPool: threadPool, logger: logger)
        fleetPool = PostgresPool(configuration: fleet, threadPool: threadPool, logger: logger)
        self.closeGrace = closeGrace
        self.logger = logger
    }

    /// Bounded by `closeGrace`: statements still running then are interrupted.
    func shutdown() async {
        async let http: Void = pool.close(gracePeriod: closeGrace)
        async let fleet: Void = fleetPool.close(gracePeriod: closeGrace)
        _ = await (http, fleet)
        try? await threadPool.shutdownGracefully()
    }

    /// Runs `body` and always shuts the runtime down afterwards.
    static func with<T>(
        _ configuration: PairgateConfiguration,
        label: String,
        _ body: (DatabaseRuntime) async throws -> T
    ) async throws -> T {
        let runtime = DatabaseRuntime(
            try configuration.requireDatabase(), fleet: try configuration.requireFleetDatabase(),
            closeGrace: .seconds(configuration.closeGraceSeconds), logger: Logger(label: label)
        )
        do {
            let result = try await body(runtime)
            await runtime.shutdown()
            return result
        } catch {
            await runtime.shutdown()
            throw error
        }
    }
}
