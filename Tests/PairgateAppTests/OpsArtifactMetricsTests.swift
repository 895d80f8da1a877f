import DevicePool
import FleetHarness
import Foundation
import Logging
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WASim

/// The shipped Grafana dashboard and Prometheus alerts (ops/grafana, ops/prometheus) may name
/// only metrics that a real gateway exposes: a `pairgate serve` process pairs a device through
/// the simulator (which makes the labelled counters appear) for a tenant with a webhook receiver,
/// and every metric of every expression must be a family of its /metrics — a histogram only
/// through _bucket, _sum or _count.
@Suite("The dashboard and the alerts name real metrics")
struct OpsArtifactMetricsTests {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private static let logger = Logger(label: "pairgate.tests.ops")

    @Test func theNameExtractorSeesMetricsOnly() {
        let expression = """
            sum by (state) (rate(a_total{x="b{c}", y=~"d|e"}[5m] offset 1h)) / on () group_left (state)
              max without (instance) (b) * 60 > bool 0.5e3 and histogram_quantile(0.99, c_bucket{instance=~"$instance"}[$__rate_interval])
            """
        #expect(PromQLMetricNames.names(in: expression) == ["a_total", "b", "c_bucket"])
    }

    @Test func everyAlertAndPanelExpressionNamesOnlyRealMetrics() throws {
        // The expressions themselves are read here; the families come from the gateway below.
        let alerts = try Self.alertExpressions()
        let panels = try Self.dashboardExpressions()
        #expect(alerts.count >= 9, "alerts.yml's expressions were not all found")
        #expect(panels.count >= 20, "the dashboard's expressions were not all found")
        for expression in alerts + panels {
            #expect(!PromQLMetricNames.names(in: expression).isEmpty, "no metric in \(expression)")
        }
    }

    @Test(.requiresDatabase, .timeLimit(.minutes(3)))
    func everyMetricOfTheDashboardAndTheAlertsIsOnARealGatewaysMetrics() async throws {
        let families = try await Self.scrapeAfterAPairing()
        for expression in try Self.alertExpressions() + Self.dashboardExpressions() {
            for name in PromQLMetricNames.names(in: expression) {
                #expect(Self.resolves(name, in: families), "\(name) is not on /metrics (from: \(expression))")
            }
        }
    }

    // MARK: The files

    private static func alertExpressions() throws -> [String] {
        let text = try String(contentsOf: repository.appending(path: "ops/prometheus/alerts.yml"), encoding: .utf8)
        let expressions = PromQLMetricNames.ruleExpressions(yaml: text)
        let alerts = text.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("- alert:") }
        #expect(expressions.count == alerts.count, "one expression per alert")
        return expressions
    }

    private static func dashboardExpressions() throws -> [String] {
        let data = try Data(contentsOf: repository.appending(path: "ops/grafana/pairgate.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return PromQLMetricNames.dashboardExpressions(dashboard)
    }

    // MARK: The gateway

    /// `pairgate serve` on a fresh database, one device paired by QR through the simulator and
    /// online, its events delivered to a webhook receiver; then GET /metrics (once the backlog
    /// gauge has been read for the tenant). Returns its families by name with their TYPE.
    private static func scrapeAfterAPairing() async throws -> [String: String] {
        let executable = try PipedChild.executable()
        var simulatorConfiguration = SimConfiguration()
        simulatorConfiguration.server.port = 0
        simulatorConfiguration.control.port = 0
        simulatorConfiguration.threads = 1
        let simulator = try Simulator(configuration: simulatorConfiguration, logger: logger)
        let endpoints = try await simulator.start()
        let work = TestEnvironment.scratchDirectory + "/ops-metrics-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        do {
            let text = try await TestDatabase.with { database in
                let pool = database.pool()
                try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
                await pool.close()
                var configuration = GatewayProcess.Configuration(
                    databaseURL: database.url, upstreamURL: endpoints.webSocketURL, upstreamRootKey: simulator.rootPublicKeyHex,
                    masterKey: MasterKey.generate(id: "ops"), adminToken: "ops-admin-\(UUID().uuidString)",
                    linkKey: Data((0..<32).map { UInt8($0) }).base64EncodedString()
                )
                configuration.extraEnvironment = ["PAIRGATE_WEBHOOKS_ALLOW_PRIVATE": "true"]
                let receiver = try await WebhookReceiver.start()
                let gateway = try await GatewayProcess.start(instanceID: "ops-a", configuration: configuration, workDirectory: work, executable: executable)
                do {
                    let api = GatewayClient(baseURL: gateway.baseURL, adminToken: configuration.adminToken)
                    let tenant = try await api.createTenant(name: "Ops", host: "ops.localhost")
                    _ = try await api.createWebhook(tenant, url: receiver.url(path: "/ops"), events: ["device.state", "pairing.updated", "pairing.ended"])
                    let paired = try #require(try await api.pairByQR(tenant, phone: simulatorConfiguration.defaultPhone, simulator: simulator))
                    try await eventually("the paired device online", limit: .seconds(60), pause: .milliseconds(50)) {
                        try await api.devices(tenant).contains { $0.id == paired.deviceID.uuidString.lowercased() && $0.state == "online" }
                    }
                    try await eventually("its events delivered", limit: .seconds(30), pause: .milliseconds(50)) { receiver.received.count >= 4 }
                    // The backlog gauge is read every 15 s; the tenant's series appears at the next reading.
                    var text = ""
                    try await eventually("the backlog gauge of the tenant", limit: .seconds(40), pause: .milliseconds(500)) {
                        let reply = try await api.request(.GET, "/metrics", host: "ops.localhost", token: nil)
                        #expect(reply.status == 200)
                        text = reply.body
                        return text.contains("pairgate_webhook_oldest_undelivered_seconds{tenant=")
                    }
                    await gateway.terminate()
                    await receiver.stop()
                    return text
                } catch {
                    await gateway.kill()
                    await receiver.stop()
                    throw error
                }
            }
            await simulator.shutdown()
            return families(in: text)
        } catch {
            await simulator.shutdown()
            throw error
        }
    }

    /// `# TYPE name kind` lines.
    private static func families(in exposition: String) -> [String: String] {
        var families: [String: String] = [:]
        for line in exposition.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let words = line.split(separator: " ")
            if words.count == 4 { families[String(words[2])] = String(words[3]) }
        }
        return families
    }

    /// A counter or gauge by its own name; a histogram's series by _bucket, _sum or _count.
    private static func resolves(_ name: String, in families: [String: String]) -> Bool {
        if let kind = families[name] { return kind != "histogram" && kind != "summary" }
        return ["_bucket", "_sum", "_count"].contains { suffix in
            name.hasSuffix(suffix) && ["histogram", "summary"].contains(families[String(name.dropLast(suffix.count))])
        }
    }
}
