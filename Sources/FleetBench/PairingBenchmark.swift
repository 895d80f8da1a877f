import FleetHarness
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import WAWire

/// `pairgate bench pairing`: many tenants pair at once; for each, POST /pair until the first QR
/// arrives on the pairing's event stream.
public enum PairingBenchmark {
    public struct Result: Sendable, Codable, CustomStringConvertible {
        public var tenants: Int
        public var rounds: Int
        /// The POSTs of a round were spread evenly over this many seconds (0: all at one instant).
        public var spreadSeconds: Double
        /// POST /pair sent → first `qr` event read on the stream of `events_url`.
        public var firstQR: LatencySummary
        /// POST /pair sent → its answer (which waits for the first QR itself).
        public var postPair: LatencySummary
        public var budgetP99Milliseconds: Double
        public var budgetMet: Bool { firstQR.p99 <= budgetP99Milliseconds }

        var arrivals: String {
            spreadSeconds == 0 ? "all POSTs at the same instant" : "POSTs spread evenly over \(spreadSeconds) s"
        }

        public var description: String {
            """
            pairing: \(tenants) tenants pairing at once, \(arrivals), \(rounds) rounds (gateway, simulator and PostgreSQL on this machine)
              POST /pair → first QR on the SSE stream: \(firstQR)
              POST /pair → its 201 answer:           \(postPair)
              budget: p99 ≤ \(Int(budgetP99Milliseconds)) ms — \(budgetMet ? "met" : "MISSED")
            """
        }
    }

    public static func run(
        serverURL: String, tenants: Int, rounds: Int, spread: Duration = .zero, metrics: PrometheusCollectorRegistry?, logger: Logger
    ) async throws -> Result {
        try await BenchDatabase.with(serverURL: serverURL, logger: logger) { database in
            try await InProcessGateway.with(database: database, metrics: metrics, logger: logger) { gateway in
                let api = gateway.api
                var fixtures: [BenchAPIClient.Tenant] = []
                for index in 0..<tenants {
                    fixtures.append(try await api.createTenant(name: "Bench \(index)", host: "t\(index).bench.example"))
                }
                // One warm-up round: connections opened, code paths and caches warm.
                _ = try await round(fixtures, spread: spread, api: api)
                var firstQR: [Double] = []
                var postPair: [Double] = []
                for _ in 0..<rounds {
                    let samples = try await round(fixtures, spread: spread, api: api)
                    firstQR += samples.map(\.firstQR)
                    postPair += samples.map(\.postPair)
                }
                return Result(
                    tenants: tenants, rounds: rounds, spreadSeconds: spread.seconds,
                    firstQR: LatencySummary(milliseconds: firstQR), postPair: LatencySummary(milliseconds: postPair),
                    budgetP99Milliseconds: 25
                )
            }
        }
    }

    struct Sample: Sendable {
        var postPair: Double
        var firstQR: Double
    }

    /// Every tenant starts a pairing — at the same moment, or the i-th of n at i·spread/n — and
    /// keeps it open until all have their first QR; then every pairing is cancelled.
    static func round(_ tenants: [BenchAPIClient.Tenant], spread: Duration, api: BenchAPIClient) async throws -> [Sample] {
        let start = ContinuousClock.now
        let samples = try await withThrowingTaskGroup(of: Sample.self) { group in
            for (index, tenant) in tenants.enumerated() {
                let arrival = start + spread * (Double(index) / Double(tenants.count))
                group.addTask {
                    if spread > .zero {
                        try await Task.sleep(until: arrival, clock: .continuous)
                    }
                    return try await pairUntilFirstQR(tenant, api: api)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for tenant in tenants {
                group.addTask {
                    let reply = try await api.request(.POST, "/reset", host: tenant.host, token: tenant.token, json: #"{"all":true,"mode":"soft"}"#)
                    guard reply.status == 200 else { throw BenchError("POST /reset answered \(reply.status)") }
                }
            }
            try await group.waitForAll()
        }
        // The cancelled pairings end asynchronously; wait until every tenant can pair again.
        for tenant in tenants {
            while true {
                let status = try await api.request(.GET, "/status", host: tenant.host, token: tenant.token)
                if status.json["active_pairing"] == nil { break }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        return samples
    }

    static func pairUntilFirstQR(_ tenant: BenchAPIClient.Tenant, api: BenchAPIClient) async throws -> Sample {
        let start = ContinuousClock.now
        let reply = try await api.request(.POST, "/pair", host: tenant.host, token: tenant.token, json: #"{"method":"qr"}"#)
        let answered = ContinuousClock.now
        guard reply.status == 201, let url = reply.json["events_url"] as? String else {
            throw BenchError("POST /pair for \(tenant.host) answered \(reply.status): \(String(buffer: reply.body))")
        }
        let stream = try await api.events(url, tenant: tenant)
        guard try await stream.next(named: "qr") != nil else { throw BenchError("the pairing of \(tenant.host) ended without a QR") }
        let shown = ContinuousClock.now
        return Sample(postPair: (answered - start).seconds * 1000, firstQR: (shown - start).seconds * 1000)
    }
}
