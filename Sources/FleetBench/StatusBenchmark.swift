import FleetHarness
import Foundation
import Logging
import NIOHTTP1
import Prometheus
import WASim

/// `pairgate bench status`: GET /status of a tenant with real devices against GET /healthz of the
/// same server, under the same closed-loop load.
public enum StatusBenchmark {
    public struct Result: Sendable, Codable, CustomStringConvertible {
        public var devices: Int
        public var statusCacheMilliseconds: Int
        public var connections: Int
        public var seconds: Double
        public var healthz: LoadGenerator.Result
        public var status: LoadGenerator.Result
        public var ratio: Double { healthz.requestsPerSecond > 0 ? status.requestsPerSecond / healthz.requestsPerSecond : 0 }
        public var budgetRatio: Double
        public var budgetMet: Bool { ratio >= budgetRatio }

        public var description: String {
            """
            status: \(connections) keep-alive connections, \(Int(seconds)) s each, one tenant with \(devices) online devices, http.status_cache_ms \(statusCacheMilliseconds) (same process, same cores)
              GET /healthz: \(Int(healthz.requestsPerSecond)) req/s, \(healthz.latency), failures \(healthz.failures)
              GET /status:  \(Int(status.requestsPerSecond)) req/s, \(status.latency), failures \(status.failures)
              ratio /status ÷ /healthz: \(String(format: "%.2f", ratio)) — budget ≥ \(budgetRatio): \(budgetMet ? "met" : "MISSED")
            """
        }
    }

    public static func run(
        serverURL: String, devices: Int, statusCacheMilliseconds: Int, connections: Int, seconds: Double, metrics: PrometheusCollectorRegistry?, logger: Logger
    ) async throws -> Result {
        try await BenchDatabase.with(serverURL: serverURL, logger: logger) { database in
            try await InProcessGateway.with(
                database: database, metrics: metrics, statusCache: .milliseconds(statusCacheMilliseconds), logger: logger
            ) { gateway in
                let api = gateway.api
                let tenant = try await api.createTenant(name: "Status bench", host: "status.bench.example")
                let simulator = gateway.simulator
                for _ in 0..<devices {
                    _ = try await api.pairDevice(tenant) { qr in _ = try await simulator.scan(qr: qr) }
                }
                try await waitUntilOnline(devices, tenant: tenant, api: api)
                let load = LoadGenerator(port: gateway.port, connections: connections, warmUp: .seconds(2), duration: .seconds(seconds))
                let healthz = try await load.run(path: "/healthz", headers: [])
                let status = try await load.run(
                    path: "/status", headers: [("Host", tenant.host), ("Authorization", "Bearer \(tenant.token)")]
                )
                return Result(devices: devices, statusCacheMilliseconds: statusCacheMilliseconds, connections: connections, seconds: seconds, healthz: healthz, status: status, budgetRatio: 0.8)
            }
        }
    }

    static func waitUntilOnline(_ count: Int, tenant: BenchAPIClient.Tenant, api: BenchAPIClient) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let reply = try await api.request(.GET, "/status", host: tenant.host, token: tenant.token)
            let states = (reply.json["devices"] as? [[String: any Sendable]] ?? []).compactMap { $0["state"] as? String }
            if states.filter({ $0 == "online" }).count == count { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("the \(count) devices were not all online within 120 s")
    }
}
