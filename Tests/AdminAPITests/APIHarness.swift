import AdminAPI
import AsyncHTTPClient
import DevicePool
import FleetHarness
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Prometheus
import ServiceLifecycle
import Testing
import WAClient

/// A tenant the harness created: its host and its first API token.
struct TenantFixture: Sendable {
    var id: UUID
    var host: String
    var token: String
}

/// One gateway instance, built by `buildGateway`, serving on a free port of 127.0.0.1.
struct GatewayNode: Sendable {
    let name: String
    let gateway: Gateway
    let upstream: ScriptedUpstream
    let port: Int
    /// Its services; a graceful shutdown of this group is the gateway's SIGTERM.
    let services: ServiceGroup

    var supervisor: Supervisor { gateway.supervisor }
}

/// A migrated database with two tenants (acme.example, beta.example) and one or more gateway
/// instances serving the API over real HTTP, on a manual clock that starts at the wall time.
struct APIHarness: Sendable {
    /// The test's own connections (fixtures, checks); never through `proxy`.
    let pool: PostgresPool
    /// The gateways' database connections: `pool`'s database, through `proxy` when there is one.
    let gatewayPool: PostgresPool
    /// In front of the gateways' database when the test asked for one: it can blackhole or stop it.
    let proxy: BlackholeProxy?
    let store: PostgresDeviceStore
    let acme: TenantFixture
    let beta: TenantFixture
    let clock: ManualClock
    let nodes: [GatewayNode]

    static let adminToken = "admin-token-for-tests-0123456789"
    static let linkKey = Array("a link key of at least 32 bytes!!".utf8)
    static let sealer = CredentialSealer(current: try! MasterKey(parsing: MasterKey.generate(id: "test")))

    var node: GatewayNode { nodes[0] }

    /// `connector` replaces the scripted upstream (the simulator through WAClient, for instance).
    /// `realClock` runs the gateways on the wall clock (a browser lives in real time); `clock`
    /// then moves nothing. `configureGateway` adjusts each gateway's configuration; with
    /// `databaseProxy` the gateways reach the database through a `BlackholeProxy`
    /// (`configureDatabase` adjusts their pool).
    static func run(
        instances: [String] = ["a"],
        configure: @Sendable (inout APIConfiguration) -> Void = { _ in },
        webhooks: @Sendable (inout WebhookConfiguration) -> Void = { _ in },
        configureGateway: @Sendable (inout GatewayConfiguration) -> Void = { _ in },
        databaseProxy: Bool = false,
        configureDatabase: @Sendable (inout PostgresConfiguration) -> Void = { _ in },
        connector: (any UpstreamConnector)? = nil,
        realClock: Bool = false,
        _ body: @Sendable (APIHarness) async throws -> Void
    ) async throws {
        // Bootstraps the metrics backend before the supervisor makes its metrics: made first, they would
        // go to swift-metrics' no-op default (MetricsTests failed when it ran alone).
        let registry = TestMetrics.registry
        try await TestDatabase.with { database in
            let pool = database.pool(maximumConnections: 12)
            try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
            var proxy: BlackholeProxy?
            var gatewayPool = pool
            if databaseProxy {
                let blackhole = BlackholeProxy()
                let port = try await blackhole.start(upstreamHost: database.server.host, upstreamPort: database.server.port)
                gatewayPool = database.pool(maximumConnections: 12) {
                    $0.url = database.url(throughPort: port)
                    $0.connectTimeout = .seconds(2)
                    configureDatabase(&$0)
                }
                proxy = blackhole
            }
            let tenants = TenantStore(pool: pool)
            let acme = try await tenants.create(name: "Acme", hosts: ["acme.example"])
            let beta = try await tenants.create(name: "Beta", hosts: ["beta.example"])
            let clock = ManualClock(start: Date())
            var configuration = APIConfiguration(linkKey: linkKey)
            configuration.adminToken = adminToken
            configuration.firstCodeWait = .seconds(5)
            // Tests read /status right after changing devices; the cache has its own test.
            configuration.statusCacheTTL = .zero
            configure(&configuration)
            let api = configuration
            let gatewayClock: any Clock<Duration>
            let gatewayNow: @Sendable () -> Date
            if realClock {
                gatewayClock = ContinuousClock()
                gatewayNow = { Date() }
            } else {
                gatewayClock = clock
                gatewayNow = { clock.date }
            }
            // The gateways run in tasks of their own, not a task group: a teardown that does not
            // finish (a device awaiting an upstream that never answers, on a starved machine) then
            // fails its test after a bound instead of hanging the whole suite.
            var running: [Task<Void, any Error>] = []
            var groups: [ServiceGroup] = []
            // Time passes while the gateways shut down: a device write that failed under load
            // retries after a backoff on the gateways' clock, and the shutdown bound is on it
            // too; with the manual clock standing still, either would hold the teardown forever.
            func shutDown() async throws {
                let passTime = realClock ? nil : Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(20))
                        clock.advance(by: .seconds(1))
                    }
                }
                defer { passTime?.cancel() }
                for services in groups { await services.triggerGracefulShutdown() }
                try await Self.awaitAll(running, within: .seconds(120))
            }
            do {
                var nodes: [GatewayNode] = []
                for name in instances {
                    let upstream = ScriptedUpstream()
                    var poolConfiguration = PoolConfiguration(instanceID: name, webVersion: "2.3000.1045649367")
                    poolConfiguration.rampPerSecond = 1000
                    // Devices stay where a test put them unless it turns rebalancing on; after the
                    // first round (awaited below) no round runs while a test moves the clock.
                    poolConfiguration.handoversPerMinute = 0
                    poolConfiguration.rebalanceInterval = .seconds(86_400)
                    let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
                    var gatewayConfiguration = GatewayConfiguration(pool: poolConfiguration, api: api, address: .hostname("127.0.0.1", port: 0))
                    webhooks(&gatewayConfiguration.webhooks)
                    configureGateway(&gatewayConfiguration)
                    let gateway = try buildGateway(
                        gatewayConfiguration,
                        database: gatewayPool, connector: connector ?? upstream, sealer: sealer, metrics: registry,
                        clock: gatewayClock, now: gatewayNow,
                        onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) },
                        logger: TestDatabase.logger
                    )
                    await gateway.clientVersions.prepare()
                    let services = ServiceGroup(configuration: .init(services: [gateway.application], logger: TestDatabase.logger))
                    groups.append(services)
                    running.append(Task { try await services.run() })
                    var iterator = ports.makeAsyncIterator()
                    let port = try #require(await iterator.next())
                    await gateway.fleet.listening()
                    // Its registration and first look at the fleet are done before the test begins.
                    await gateway.supervisor.firstRoundDone()
                    nodes.append(GatewayNode(name: name, gateway: gateway, upstream: upstream, port: port, services: services))
                }
                let harness = APIHarness(
                    pool: pool, gatewayPool: gatewayPool, proxy: proxy, store: PostgresDeviceStore(pool: pool),
                    acme: TenantFixture(id: acme.tenant.id, host: "acme.example", token: acme.token.value),
                    beta: TenantFixture(id: beta.tenant.id, host: "beta.example", token: beta.token.value),
                    clock: clock, nodes: nodes
                )
                try await body(harness)
            } catch {
                try? await shutDown()
                throw error
            }
            try await shutDown()
            if let proxy {
                await gatewayPool.close()
                await proxy.stop()
            }
            await pool.close()
        }
    }

    /// Waits for the gateways' tasks and rethrows the first error; after `limit`, records an issue
    /// (the test fails, naming the hang) and leaves them cancelled and running, so one stuck
    /// teardown costs its test and not the suite.
    static func awaitAll(_ tasks: [Task<Void, any Error>], within limit: Duration) async throws {
        let (outcomes, sink) = AsyncStream.makeStream(of: Bool.self)
        Task {
            for task in tasks { _ = try? await task.value }
            sink.yield(true)
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            sink.yield(false)
        }
        var iterator = outcomes.makeAsyncIterator()
        let finished = await iterator.next() ?? false
        timer.cancel()
        guard finished else {
            tasks.forEach { $0.cancel() }
            Issue.record("the gateways did not shut down within \(limit); left running so that the suite goes on")
            return
        }
        for task in tasks { try await task.value }
    }

    // MARK: Requests

    /// An HTTP answer, body as text.
    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String

        var json: [String: any Sendable] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: any Sendable] ?? [:]
        }

        func header(_ name: String) -> String? { headers.first(name: name) }
    }

    func request(
        _ method: HTTPMethod, _ path: String, host: String?, token: String? = nil, json: String? = nil,
        contentType: String? = "application/json", headers: [(String, String)] = [], node: Int = 0
    ) async throws -> Reply {
        let response = try await HTTPClient.shared.execute(
            makeRequest(method, path, host: host, token: token, json: json, contentType: contentType, headers: headers, node: node),
            timeout: .seconds(30)
        )
        let body = try await response.body.collect(upTo: 4 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    func makeRequest(
        _ method: HTTPMethod, _ path: String, host: String?, token: String? = nil, json: String? = nil,
        contentType: String? = "application/json", headers: [(String, String)] = [], node: Int = 0
    ) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(nodes[node].port)\(path)")
        request.method = method
        if let host { request.headers.replaceOrAdd(name: "Host", value: host) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
            request.body = .bytes(ByteBuffer(string: json))
        }
        return request
    }

    /// Opens an event stream and hands its events to `body` one by one, as they arrive.
    func events(_ path: String, host: String, token: String? = nil, node: Int = 0) async throws -> EventStreamReader {
        let response = try await HTTPClient.shared.execute(makeRequest(.GET, path, host: host, token: token, node: node), timeout: .seconds(60))
        return EventStreamReader(status: Int(response.status.code), contentType: response.headers.first(name: "Content-Type"), body: response.body)
    }

    func admin(_ method: HTTPMethod, _ path: String, json: String? = nil, node: Int = 0) async throws -> Reply {
        try await request(method, path, host: "anything.example", token: Self.adminToken, json: json, node: node)
    }

    /// Starts a QR pairing for `tenant` through the API while the test plays the upstream: the
    /// first QR arrives, and POST /pair answers with it.
    func startQRPairing(_ tenant: TenantFixture, qr: String = "2@ref-1,noise,identity,adv", node: Int = 0) async throws -> (Reply, ScriptedSession) {
        async let reply = request(.POST, "/pair", host: tenant.host, token: tenant.token, json: #"{"method":"qr"}"#, node: node)
        var sessions = nodes[node].upstream.sessions.makeAsyncIterator()
        let session = try #require(await sessions.next())
        session.emit(.qr(code: qr, validFor: .seconds(60)))
        return (try await reply, session)
    }
}

/// Server-Sent Events as they arrive: `next()` returns the next event (comments included as
/// events named `:`), nil when the stream ends.
final class EventStreamReader: @unchecked Sendable {
    let status: Int
    let contentType: String?
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private var pending = ""

    init(status: Int, contentType: String?, body: HTTPClientResponse.Body) {
        self.status = status
        self.contentType = contentType
        iterator = body.makeAsyncIterator()
    }

    struct Event: Sendable, Equatable {
        var name: String
        var data: String

        var json: [String: any Sendable] {
            (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: any Sendable] ?? [:]
        }
    }

    func next() async throws -> Event? {
        while true {
            if let range = pending.range(of: "\n\n") {
                let block = String(pending[..<range.lowerBound])
                pending.removeSubrange(..<range.upperBound)
                if block.hasPrefix(":") { return Event(name: ":", data: String(block.dropFirst()).trimmingCharacters(in: .whitespaces)) }
                var name = "message"
                var data = ""
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
                }
                return Event(name: name, data: data)
            }
            guard let chunk = try await iterator.next() else { return nil }
            pending += String(buffer: chunk)
        }
    }

    /// Every remaining event until the stream closes.
    func rest() async throws -> [Event] {
        var events: [Event] = []
        while let event = try await next() { events.append(event) }
        return events
    }
}

/// The process's metrics backend for tests: bootstrapped once, shared by every test.
enum TestMetrics {
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}

