import AdminAPI
import ArgumentParser
import DevicePool
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOPosix
import Prometheus
import UnixSignals
import WAClient
import WAWire
import Webhooks

/// `pairgate serve`: the gateway — HTTP API, device pool, fleet bus — until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the gateway: the HTTP API (docs/api.md), the device pool and /metrics."
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "Address to bind (default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to bind (default 8080).")
    var port: Int?

    func run() async throws {
        raiseOpenFileLimit()
        var overrides: [String: String] = [:]
        if let host { overrides["http.host"] = host }
        if let port { overrides["http.port"] = String(port) }
        let configuration = try await options.load(overrides)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(Self.metricsFactory(registry: registry))
        try await Self.serve(configuration, connector: try Self.upstreamClient(configuration), metrics: registry)
    }
}

/// Raises the soft limit of open files to the hard one: every online device holds a socket, and
/// the usual soft default (1024) would stop a gateway at about a thousand devices.
func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
}

/// How `pairgate serve` builds its gateway from the configuration (`buildGateway` does the
/// wiring), with the upstream connector passed in so the executable (and tests) choose it.
extension ServeCommand {
    static func serve(_ configuration: PairgateConfiguration, connector: any UpstreamConnector, metrics: PrometheusCollectorRegistry?) async throws {
        let logger = Logger(label: "pairgate")
        let sealer = try configuration.requireSealer()
        let gatewayConfiguration = try gatewayConfiguration(configuration, logger: logger)
        try await DatabaseRuntime.with(configuration, label: "pairgate.postgres") { runtime in
            var gateway = try buildGateway(
                gatewayConfiguration, database: runtime.pool, fleetDatabase: runtime.fleetPool, connector: connector, sealer: sealer,
                metrics: metrics, logger: logger
            )
            if configuration.heapTrimIntervalSeconds > 0 {
                gateway.application.addServices(HeapTrimmer(interval: .seconds(configuration.heapTrimIntervalSeconds)))
            }
            // Devices connect with the fleet's version from the start.
            await gateway.clientVersions.prepare()
            logger.info("serving", metadata: [
                "address": "\(configuration.http.host):\(configuration.http.port)",
                "instance": "\(configuration.instanceID)",
            ])
            try await gateway.application.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        }
    }

    /// The pool, the API and the listening address as the configuration says.
    static func gatewayConfiguration(_ configuration: PairgateConfiguration, logger: Logger) throws -> GatewayConfiguration {
        var pool = PoolConfiguration(instanceID: configuration.instanceID, webVersion: configuration.upstream.webVersion)
        if let ramp = configuration.rampPerSecond { pool.rampPerSecond = Double(ramp) }
        let retention = configuration.messageRetentionDays
        pool.messageRetention = retention == 0 ? nil : .seconds(retention * 86_400)
        pool.shutdownTimeout = .seconds(configuration.shutdownTimeoutSeconds)
        pool.maxQueueAge = .seconds(configuration.maxQueueAgeSeconds)
        pool.sendRatePerMinute = configuration.sendRatePerMinute == 0 ? nil : configuration.sendRatePerMinute
        pool.sendBurst = configuration.sendBurst
        pool.sendAckTimeout = .seconds(configuration.sendAckTimeoutSeconds)
        pool.maxDevices = configuration.rebalancing.maxDevices
        pool.rebalanceInterval = .seconds(configuration.rebalancing.intervalSeconds)
        pool.handoversPerMinute = configuration.rebalancing.handoversPerMinute
        pool.handoverMaxFraction = Double(configuration.rebalancing.maxPercent) / 100
        var gateway = GatewayConfiguration(
            pool: pool, api: try apiConfiguration(configuration, logger: logger),
            address: .hostname(configuration.http.host, port: configuration.http.port)
        )
        gateway.idleTimeout = .seconds(configuration.http.idleTimeoutSeconds)
        gateway.webhooks = webhookConfiguration(configuration.webhooks)
        let upstream = configuration.upstream
        if upstream.versionCheckIntervalSeconds > 0, let url = URL(string: upstream.versionURL) {
            gateway.clientVersion.source = WebVersionSource(url: url, timeout: .seconds(upstream.versionCheckTimeoutSeconds))
            gateway.clientVersion.checkInterval = .seconds(upstream.versionCheckIntervalSeconds)
        }
        gateway.maximumConnections = configuration.http.maxConnections
        gateway.tenantRecheckInterval = .seconds(configuration.tenantRecheckSeconds)
        let days = configuration.history.retentionDays
        gateway.history.age = days == 0 ? nil : .seconds(days * 86_400)
        gateway.history.interval = .seconds(configuration.history.sweepIntervalMinutes * 60)
        gateway.history.batchSize = configuration.history.sweepBatchSize
        return gateway
    }

    /// Webhook delivery as `webhooks.*` says.
    static func webhookConfiguration(_ settings: PairgateConfiguration.Webhooks) -> WebhookConfiguration {
        var webhooks = WebhookConfiguration()
        webhooks.allowPrivate = settings.allowPrivate
        webhooks.concurrency = settings.concurrency
        webhooks.delivery.maximumConcurrentPerEndpoint = settings.perEndpointConcurrency
        webhooks.delivery.connectTimeout = .seconds(settings.connectTimeoutSeconds)
        webhooks.delivery.responseTimeout = .seconds(settings.responseTimeoutSeconds)
        webhooks.claimDuration = .seconds(settings.claimSeconds)
        webhooks.policy.base = .seconds(settings.retryBaseSeconds)
        webhooks.policy.cap = .seconds(settings.retryCapSeconds)
        webhooks.policy.retryWindow = .seconds(settings.retryWindowHours * 3600)
        webhooks.policy.retryAfterCap = .seconds(settings.retryAfterCapSeconds)
        webhooks.policy.disableAfter = .seconds(settings.disableAfterHours * 3600)
        webhooks.retention = .seconds(settings.retentionHours * 3600)
        webhooks.maximumEndpointsPerTenant = settings.maxEndpointsPerTenant
        return webhooks
    }

    /// WAClient's client for every device of this process (one TLS context, one event loop group).
    static func upstreamClient(_ configuration: PairgateConfiguration) throws -> UpstreamClient {
        var client = ClientConfiguration()
        client.upstreamURL = configuration.upstream.url
        if let key = configuration.upstream.rootKey { client.trustedRootKey = key }
        if let caFile = configuration.upstream.caFile { client.tls = try ClientTLS(trustRoots: .pemFile(caFile)) }
        client.proxy = configuration.upstream.proxy.flatMap(ProxyConfiguration.init(url:))
        if let version = WebClientVersion(configuration.upstream.webVersion) { client.webVersion = version }
        let roundTrips = Metrics.Timer(label: "pairgate_keepalive_round_trip_seconds", preferredDisplayUnit: .seconds)
        client.keepaliveRoundTrip = { roundTrip in
            let (seconds, attoseconds) = roundTrip.components
            roundTrips.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
        return UpstreamClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: client, logger: Logger(label: "pairgate.upstream"))
    }

    static func apiConfiguration(_ configuration: PairgateConfiguration, logger: Logger) throws -> APIConfiguration {
        let key: [UInt8]
        if let configured = configuration.http.linkKey {
            key = configured
        } else {
            logger.warning("http.link_key is not set: pairing links work only on this instance and until it restarts")
            var generator = SystemRandomNumberGenerator()
            key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        }
        var api = APIConfiguration(linkKey: key)
        api.trustedProxies = try TrustedProxies(parsing: configuration.http.trustedProxies)
        api.adminToken = configuration.adminToken
        api.pairRatePerMinute = Double(configuration.http.pairRatePerMinute)
        api.pairBurst = configuration.http.pairBurst
        api.tenantDailyQuota = configuration.tenantDailyQuota == 0 ? nil : configuration.tenantDailyQuota
        api.firstCodeWait = .milliseconds(configuration.http.firstCodeWaitMilliseconds)
        api.requestTimeout = .seconds(configuration.http.requestTimeoutSeconds)
        api.heartbeat = .seconds(configuration.http.heartbeatSeconds)
        api.tenantCacheTTL = .seconds(configuration.http.tenantCacheSeconds)
        api.statusCacheTTL = .milliseconds(configuration.http.statusCacheMilliseconds)
        api.maximumPendingLookups = configuration.http.maxPendingLookups
        api.resetConcurrency = configuration.http.resetConcurrency
        api.streamsPerPairing = configuration.http.sseMaxPerPairing
        api.streamsPerTenant = configuration.http.sseMaxPerTenant
        api.streamsPerInstance = configuration.http.sseMaxPerInstance
        return api
    }

    /// swift-metrics through swift-prometheus, with buckets that fit each duration.
    static func metricsFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["pairgate_pairing_duration_seconds"] = [5, 10, 20, 30, 45, 60, 90, 120, 180].map { .seconds($0) }
        factory.durationHistogramBuckets["pairgate_handshake_duration_seconds"] = [
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
        ]
        factory.durationHistogramBuckets[WebhookMetrics.attemptDurationName] = WebhookMetrics.attemptDurationBuckets
        factory.durationHistogramBuckets["pairgate_keepalive_round_trip_seconds"] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
        // `t` has second resolution; offline queues replay messages hours or days old.
        factory.durationHistogramBuckets[ReceiveMetrics.inboxLagName] = [1, 2, 5, 10, 30, 60, 300, 3600, 86_400].map { .seconds($0) }
        return factory
    }
}
