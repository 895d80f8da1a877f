import AdminAPI
import DevicePool
import Foundation
import Hummingbird
import Logging
import NIOPosix
import PostgresClient
import PostgresStore
import Prometheus
import ServiceLifecycle
import WAClient
import WASim
import WAWire

/// A gateway built as `pairgate serve` builds it (`buildGateway`), in this process on a free port,
/// on a fresh database, with its devices connecting to an in-process simulator.
public struct InProcessGateway: Sendable {
    public let port: Int
    public let pool: PostgresPool
    public let tenants: TenantStore
    public let simulator: Simulator
    public let api: BenchAPIClient

    /// What the benchmarks change from the defaults: the per-tenant pairing rate limit only.
    public static func apiConfiguration(adminToken: String, statusCache: Duration) -> APIConfiguration {
        var linkKey = [UInt8](repeating: 0, count: 32)
        for index in linkKey.indices { linkKey[index] = UInt8.random(in: .min ... .max) }
        var configuration = APIConfiguration(linkKey: linkKey)
        configuration.adminToken = adminToken
        // Benchmarks pair far faster than a person would; the limiter is not what is measured.
        configuration.pairRatePerMinute = 1_000_000
        configuration.pairBurst = 1_000_000
        configuration.statusCacheTTL = statusCache
        return configuration
    }

    /// Starts the simulator and the gateway on `database`, runs `body`, shuts both down.
    public static func with<T: Sendable>(
        database: BenchDatabase,
        metrics: PrometheusCollectorRegistry?,
        simulator simConfiguration: SimConfiguration = SimConfiguration(),
        statusCache: Duration = APIConfiguration(linkKey: []).statusCacheTTL,
        webhooks: WebhookConfiguration = WebhookConfiguration(),
        connections: Int = 10,
        configurePool: @Sendable (inout PoolConfiguration) -> Void = { _ in },
        logger: Logger,
        _ body: @Sendable (InProcessGateway) async throws -> T
    ) async throws -> T {
        var simConfiguration = simConfiguration
        simConfiguration.server.port = 0
        simConfiguration.control.port = 0
        let simulator = try Simulator(configuration: simConfiguration, logger: logger)
        let endpoints = try await simulator.start()
        var client = ClientConfiguration()
        client.upstreamURL = endpoints.webSocketURL
        client.session.trustedRootKey = simulator.rootKey.publicKey
        let upstream = UpstreamClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: client, logger: logger)

        let pool = database.pool(maximumConnections: connections)
        let adminToken = "bench-admin-token-0123456789abcdef"
        do {
            let migrator = try PairgateSchema.migrator(pool: pool, logger: logger)
            try await migrator.migrate()
            let sealer = CredentialSealer(current: try MasterKey(parsing: MasterKey.generate(id: "bench")))
            var poolConfiguration = PoolConfiguration(instanceID: "bench-\(getpid())", webVersion: client.webVersion.description)
            configurePool(&poolConfiguration)
            var configuration = GatewayConfiguration(
                pool: poolConfiguration,
                api: apiConfiguration(adminToken: adminToken, statusCache: statusCache),
                address: .hostname("127.0.0.1", port: 0)
            )
            configuration.webhooks = webhooks
            let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
            let gateway = try buildGateway(
                configuration, database: pool, connector: upstream, sealer: sealer, metrics: metrics,
                onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) }, logger: logger
            )
            let tenants = TenantStore(pool: pool)
            let services = ServiceGroup(configuration: .init(services: [gateway.application], logger: logger))
            let result = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await services.run() }
                var iterator = ports.makeAsyncIterator()
                guard let port = await iterator.next(), port > 0 else { throw BenchError("the gateway did not start listening") }
                await gateway.fleet.listening()
                let api = BenchAPIClient(baseURL: "http://127.0.0.1:\(port)", adminToken: adminToken)
                let gatewayHere = InProcessGateway(port: port, pool: pool, tenants: tenants, simulator: simulator, api: api)
                do {
                    let result = try await body(gatewayHere)
                    await services.triggerGracefulShutdown()
                    try await group.waitForAll()
                    try await api.shutdown()
                    return result
                } catch {
                    await services.triggerGracefulShutdown()
                    try? await group.waitForAll()
                    try? await api.shutdown()
                    throw error
                }
            }
            await pool.close()
            await simulator.shutdown()
            return result
        } catch {
            await pool.close()
            await simulator.shutdown()
            throw error
        }
    }
}

/// A failure of a benchmark's own machinery, said plainly.
public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
