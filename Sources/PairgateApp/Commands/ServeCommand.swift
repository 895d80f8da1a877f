import ArgumentParser
import Hummingbird
import Logging
import PostgresStore
import ServiceLifecycle
import UnixSignals

/// `pairgate serve`: the gateway's HTTP server and, in later stages, its device pool.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the gateway (GET /healthz, GET /readyz)."
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "Address to bind (default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to bind (default 8080).")
    var port: Int?

    func run() async throws {
        var overrides: [String: String] = [:]
        if let host { overrides["http.host"] = host }
        if let port { overrides["http.port"] = String(port) }
        let configuration = try await options.load(overrides)
        let logger = Logger(label: "pairgate")
        try await DatabaseRuntime.with(configuration, label: "pairgate.postgres") { runtime in
            let migrator = try PairgateSchema.migrator(pool: runtime.pool, logger: runtime.logger)
            let app = Application(
                router: HealthRoutes(readiness: Readiness(migrator: migrator)).router(),
                configuration: .init(
                    address: .hostname(configuration.http.host, port: configuration.http.port),
                    serverName: "pairgate"
                ),
                logger: logger
            )
            logger.info("serving", metadata: [
                "address": "\(configuration.http.host):\(configuration.http.port)",
                "instance": "\(configuration.instanceID)",
            ])
            let services = ServiceGroup(configuration: .init(
                services: [app],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
            try await services.run()
        }
    }
}
