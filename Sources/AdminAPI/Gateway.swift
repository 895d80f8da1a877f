import DevicePool
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import PostgresClient
import PostgresStore
import Prometheus

/// How one gateway process is set up: its device pool, its HTTP API, and where it listens.
public struct GatewayConfiguration: Sendable {
    public var pool: PoolConfiguration
    public var api: APIConfiguration
    /// Where the HTTP server listens; port 0 takes a free one (`onServerRunning` tells which).
    public var address: BindAddress
    /// An HTTP connection idle this long is closed (`http.idle_timeout_seconds`).
    public var idleTimeout: Duration = .seconds(75)
    /// Webhook delivery (`webhooks.*`).
    public var webhooks = WebhookConfiguration()
    /// Where and how often the fleet's WhatsApp Web version is checked (no checks by default;
    /// `pairgate serve` checks web.whatsapp.com).
    public var clientVersion = ClientVersionKeeper.Configuration()
    /// HTTP connections open at once (`http.max_connections`); further ones wait in the kernel's
    /// accept queue until one closes.
    public var maximumConnections = 4096
    /// How often this instance looks for devices of disabled tenants it still runs
    /// (`fleet.tenant_recheck_seconds`), besides the fleet bus's news and its reconnects.
    public var tenantRecheckInterval: Duration = .seconds(60)
    /// How long history rows are kept and how they are swept (`history.*`).
    public var history = HistoryRetention()

    public init(pool: PoolConfiguration, api: APIConfiguration, address: BindAddress) {
        self.pool = pool
        self.api = api
        self.address = address
    }
}

/// One gateway process, wired: the device pool, the event bus, the fleet bus, the client
/// version, the webhook workers and the HTTP API. Running `application` runs them all; on
/// shutdown the HTTP server stops first, then the pool closes its devices (their pairings end and
/// are announced, their events written), then the webhook workers, then the client version's
/// checks, then the fleet bus.
public struct Gateway: Sendable {
    /// The Hummingbird application; the pool, the webhook workers, the client version, the
    /// fleet bus and the history sweeper are its services.
    public var application: Application<GatewayResponder>
    public let supervisor: Supervisor
    public let events: EventBus
    public let fleet: FleetBus
    public let webhooks: WebhookDispatcher
    /// Call `prepare()` before running the application, so that devices connect with the
    /// fleet's version from the start.
    public let clientVersions: ClientVersionKeeper
}

/// Builds a gateway on `database`, as `pairgate serve`, the fleet benchmarks and the API tests
/// run it (in the style of Hummingbird's `buildApplication`). `fleetDatabase` is the pool of fleet
/// control — leases, device writes, pairings, the fleet bus — sized and timed apart from the
/// HTTP requests' `database`, so that no amount of HTTP traffic delays a lease renewal (nil:
/// one pool for both). `connector` opens the devices' upstream connections; `metrics` is the
/// registry /metrics shows (nil: no /metrics route); `clock` and `now` drive every timer and
/// timestamp, so tests can move time themselves.
public func buildGateway(
    _ configuration: GatewayConfiguration,
    database: PostgresPool,
    fleetDatabase: PostgresPool? = nil,
    connector: any UpstreamConnector,
    sealer: CredentialSealer,
    metrics: PrometheusCollectorRegistry?,
    clock: any Clock<Duration> = ContinuousClock(),
    now: @escaping @Sendable () -> Date = { Date() },
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
    logger: Logger
) throws -> Gateway {
    let events = EventBus(now: now)
    let fleetDatabase = fleetDatabase ?? database
    let supervisor = Supervisor(
        configuration: configuration.pool, store: PostgresDeviceStore(pool: fleetDatabase), connector: connector, sealer: sealer,
        events: events, clock: clock, now: now, logger: logger.part("pool")
    )
    let directory = TenantDirectory(
        store: TenantStore(pool: database), ttl: configuration.api.tenantCacheTTL,
        maximumLookups: configuration.api.maximumPendingLookups, lookupWait: configuration.api.lookupWait, now: now
    )
    let fleet = try FleetBus(
        pool: fleetDatabase, supervisor: supervisor, events: events, directory: directory,
        recheckInterval: configuration.tenantRecheckInterval, clock: clock, logger: logger.part("fleet")
    )
    let clientVersions = ClientVersionKeeper(
        configuration: configuration.clientVersion, settings: SettingsStore(pool: fleetDatabase), supervisor: supervisor, fleet: fleet,
        clock: clock, now: now, logger: logger.part("version")
    )
    let webhooks = WebhookDispatcher(
        configuration: configuration.webhooks, store: WebhookStore(pool: database), database: database.configuration, sealer: sealer,
        instanceID: configuration.pool.instanceID, now: now, logger: logger.part("webhooks")
    )
    let sweeper = HistorySweeper(configuration.history, store: PostgresDeviceStore(pool: database), clock: clock, logger: logger.part("history"))
    let router = buildRouter(
        configuration.api, database: database, supervisor: supervisor, sealer: sealer, events: events, fleet: fleet, directory: directory,
        clientVersions: clientVersions,
        readiness: Readiness(migrator: try PairgateSchema.migrator(pool: database, logger: logger), logger: logger),
        webhooks: configuration.webhooks, metrics: metrics, clock: clock, now: now, logger: logger
    )
    let application = Application(
        responder: GatewayResponder(router: router, limit: configuration.api.requestTimeout),
        server: .http1(configuration: .init(
            additionalChannelHandlers: [MalformedRequestProblemHandler()], idleTimeout: TimeAmount(configuration.idleTimeout)
        )),
        configuration: .init(
            address: configuration.address, serverName: "pairgate",
            availableConnectionsDelegate: MaximumAvailableConnections(configuration.maximumConnections)
        ),
        services: [fleet, clientVersions, webhooks, supervisor, sweeper],
        onServerRunning: onServerRunning,
        logger: logger
    )
    return Gateway(
        application: application, supervisor: supervisor, events: events, fleet: fleet, webhooks: webhooks, clientVersions: clientVersions
    )
}

extension Logger {
    /// The logger of one part of the gateway: `pairgate.pool` beside `pairgate`, at the same level.
    func part(_ name: String) -> Logger {
        var logger = Logger(label: "\(label).\(name)")
        logger.logLevel = logLevel
        return logger
    }
}
