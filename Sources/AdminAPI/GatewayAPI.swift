import DevicePool
import Foundation
import Hummingbird
import Logging
import PostgresClient
import PostgresStore
import Prometheus

/// How the HTTP API behaves; every default is the documented one (docs/configuration.md).
public struct APIConfiguration: Sendable {
    /// Peers whose X-Forwarded-Host / X-Forwarded-Proto are believed (`http.trusted_proxies`).
    public var trustedProxies: TrustedProxies = .none
    /// The admin bearer token (`admin.token`); nil closes the admin API.
    public var adminToken: String?
    /// The key of pairing-page links (`http.link_key`), shared by every instance.
    public var linkKey: [UInt8]
    /// POST /pair per tenant and instance: `pairBurst` at once, refilled at this rate.
    public var pairRatePerMinute: Double = 6
    public var pairBurst = 3
    /// How long POST /pair waits for the first QR or code before answering without it.
    public var firstCodeWait: Duration = .seconds(5)
    /// How long a handler may take before the caller gets 503 `request_timeout`.
    public var requestTimeout: Duration = .seconds(30)
    /// How often an event stream sends a comment so proxies and clients see it alive.
    public var heartbeat: Duration = .seconds(15)
    /// How long host and token lookups are cached when no invalidation arrives.
    public var tenantCacheTTL: Duration = .seconds(5)
    /// How long a reset routed to another instance waits for its answer.
    public var forwardTimeout: Duration = .seconds(10)
    /// How long a tenant's rendered GET /status is reused (`http.status_cache_ms`); zero reads
    /// the database on every request.
    public var statusCacheTTL: Duration = .seconds(1)

    public init(linkKey: [UInt8]) {
        self.linkKey = linkKey
    }
}

/// The gateway's HTTP surface on one port: tenant routes selected by Host, admin routes under
/// /admin, and the operational routes (/healthz, /readyz, /metrics, /openapi.yaml).
public struct GatewayAPI: Sendable {
    let configuration: APIConfiguration
    let supervisor: Supervisor
    let devices: PostgresDeviceStore
    let tenants: TenantStore
    let directory: TenantDirectory
    let relay: PairingRelay
    let bus: FleetBus?
    let readiness: Readiness
    let metrics: PrometheusCollectorRegistry?
    let limiter: PairingRateLimiter
    let links: PairingLinkSigner
    let statusCache: StatusCache
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date
    let logger: Logger

    public init(
        configuration: APIConfiguration, pool: PostgresPool, supervisor: Supervisor, directory: TenantDirectory,
        relay: PairingRelay, bus: FleetBus?, readiness: Readiness, metrics: PrometheusCollectorRegistry?,
        clock: any Clock<Duration> = ContinuousClock(), now: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) {
        self.configuration = configuration
        self.supervisor = supervisor
        devices = PostgresDeviceStore(pool: pool)
        tenants = TenantStore(pool: pool)
        self.directory = directory
        self.relay = relay
        self.bus = bus
        self.readiness = readiness
        self.metrics = metrics
        limiter = PairingRateLimiter(perMinute: configuration.pairRatePerMinute, burst: configuration.pairBurst)
        links = PairingLinkSigner(key: configuration.linkKey)
        statusCache = StatusCache(ttl: configuration.statusCacheTTL, now: now)
        self.clock = clock
        self.now = now
        self.logger = logger
    }

    var gate: TenantGate {
        TenantGate(directory: directory, proxies: configuration.trustedProxies, links: links, devices: devices, now: now)
    }

    /// The router with every route.
    public func router() -> Router<APIContext> {
        router(table: RouteTable())
    }

    /// The router; `table` receives the declared routes (405 answers, the OpenAPI parity test).
    func router(table: RouteTable) -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.add(middleware: HTTPMetricsMiddleware())
        router.add(middleware: ProblemMiddleware(routes: table))
        let timeout = configuration.requestTimeout

        let ops = Routes(router: router, table: table, prefix: "", timeout: timeout)
        addOperationalRoutes(ops)

        let admin = router.group("/admin").add(middleware: AdminMiddleware(token: configuration.adminToken))
        addAdminRoutes(Routes(router: admin, table: table, prefix: "/admin", timeout: timeout))

        // The pairing page handles its own failures as HTML, so it sits outside the tenant middleware.
        addPageRoute(ops)
        let linked = router.group().add(middleware: TenantMiddleware(gate: gate, allowLink: true))
        addLinkedRoutes(Routes(router: linked, table: table, prefix: "", timeout: timeout))
        let tenant = router.group().add(middleware: TenantMiddleware(gate: gate, allowLink: false))
        let tenantRoutes = Routes(router: tenant, table: table, prefix: "", timeout: timeout)
        addTenantRoutes(tenantRoutes)
        addStatusRoutes(tenantRoutes)
        addResetRoute(tenantRoutes)
        return router
    }
}
