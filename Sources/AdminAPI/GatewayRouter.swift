import DevicePool
import Foundation
import Hummingbird
import Logging
import PostgresClient
import PostgresStore
import Prometheus

/// Every route of the gateway on one port, each controller holding only what its routes need
/// (`GatewayResponder` wraps the router with the request deadline and the HTTP metrics):
/// the operational routes, the admin API under /admin (admin token), the pairing page and the
/// admin page (which admit their callers by their signed links), the routes a pairing link also
/// opens, and the tenant routes (Host → tenant, then the tenant's token).
func buildRouter(
    _ configuration: APIConfiguration,
    database: PostgresPool,
    supervisor: Supervisor,
    sealer: CredentialSealer,
    events: EventBus,
    fleet: FleetBus,
    directory: TenantDirectory,
    clientVersions: ClientVersionKeeper,
    readiness: Readiness,
    webhooks: WebhookConfiguration,
    metrics: PrometheusCollectorRegistry?,
    clock: any Clock<Duration>,
    now: @escaping @Sendable () -> Date,
    logger: Logger
) -> Router<APIContext> {
    let devices = PostgresDeviceStore(pool: database)
    let links = PairingLinkSigner(key: configuration.linkKey)
    let gate = TenantGate(directory: directory, proxies: configuration.trustedProxies, links: links, devices: devices, now: now)
    let statusCache = StatusCache(ttl: configuration.statusCacheTTL, now: now)
    let resets = DeviceResets(supervisor: supervisor, fleet: fleet, forwardTimeout: configuration.forwardTimeout, logger: logger)
    let methods = AllowedMethods()

    let streams = StreamLimits(.init(
        perPairing: configuration.streamsPerPairing, perTenant: configuration.streamsPerTenant, perInstance: configuration.streamsPerInstance
    ))

    // Metrics and the request deadline live around the router, in GatewayResponder.
    let router = Router(context: APIContext.self)
    router.add(middleware: ProblemMiddleware(methods: methods))

    OperationsController(
        readiness: readiness, devices: devices, metrics: metrics, clientVersion: { supervisor.clientVersion }, now: now
    ).addRoutes(to: router)
    let admin = router.group("/admin").add(middleware: AdminMiddleware(token: configuration.adminToken))
    AdminController(
        tenants: TenantStore(pool: database), devices: devices, fleet: fleet, resets: resets,
        instanceID: supervisor.configuration.instanceID
    ).addRoutes(to: admin)
    ClientVersionController(keeper: clientVersions, inUse: { supervisor.clientVersion })
        .addRoutes(to: admin)
    let fleetPage = FleetPageController(
        devices: devices, links: FleetPageLinkSigner(key: configuration.linkKey), gate: gate,
        instanceID: supervisor.configuration.instanceID, leaseTTL: supervisor.configuration.leaseTTL,
        refresh: configuration.adminPageRefresh, heartbeat: configuration.heartbeat, clock: clock, now: now
    )
    fleetPage.addLinkRoute(to: admin)
    fleetPage.addRoutes(to: router)
    PairingPageController(gate: gate, devices: devices, links: links, pairings: events.pairings)
        .addRoutes(to: router)
    PairingEventsController(
        devices: devices, pairings: events.pairings, fleet: fleet, streams: streams, heartbeat: configuration.heartbeat, clock: clock, now: now
    ).addRoutes(to: router.group().add(middleware: TenantMiddleware(gate: gate, allowLink: true)))

    let tenant = router.group().add(middleware: TenantMiddleware(gate: gate, allowLink: false))
    PairingController(
        supervisor: supervisor, pairings: events.pairings,
        limiter: PairingRateLimiter(perMinute: configuration.pairRatePerMinute, burst: configuration.pairBurst),
        links: links, gate: gate, statusCache: statusCache, firstCodeWait: configuration.firstCodeWait, clock: clock, now: now
    ).addRoutes(to: tenant)
    StatusController(devices: devices, pairings: events.pairings, statusCache: statusCache, clientVersion: { supervisor.clientVersion })
        .addRoutes(to: tenant)
    ResetController(devices: devices, resets: resets, statusCache: statusCache, concurrency: configuration.resetConcurrency)
        .addRoutes(to: tenant)
    MessagesController(devices: devices, fleet: fleet, dailyQuota: configuration.tenantDailyQuota, now: now)
        .addRoutes(to: tenant)
    WebhooksController(store: WebhookStore(pool: database), sealer: sealer, configuration: webhooks, now: now)
        .addRoutes(to: tenant)
    DevicesController(devices: devices, resets: resets, supervisor: supervisor, sealer: sealer, statusCache: statusCache, now: now)
        .addRoutes(to: tenant)

    methods.load(router.routes)
    return router
}
