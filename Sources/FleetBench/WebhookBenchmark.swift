import AdminAPI
import FleetHarness
import Foundation
import Logging
import NIOHTTP1
import PostgresClient
import PostgresStore
import Prometheus
import Synchronization
import Webhooks

/// `pairgate bench webhooks`: commit → delivery latency and deliveries per second at a steady
/// event rate (budget: p99 ≤ 250 ms at 1,000 events/s, ../shared/design/ARCHITECTURE.md). The
/// gateway runs in this process with its webhook workers; events are committed as a change
/// commits them (one transaction each, `WebhookOutbox.emit`), spread over many devices, for one
/// tenant whose endpoint is a receiver on 127.0.0.1 that answers at once. The clock starts when
/// the commit returns and stops when the receiver has the request.
public enum WebhookBenchmark {
    public struct Options: Sendable {
        /// Events committed per second.
        public var rate = 1000.0
        public var seconds = 10.0
        /// Devices the events are spread over (each device's events are delivered one at a time).
        public var devices = 200
        /// `webhooks.concurrency` of the gateway.
        public var concurrency = 32
        /// Transactions committing events at once.
        public var committers = 16

        public init() {}
    }

    public struct Result: Sendable, Codable, CustomStringConvertible {
        public var rate: Double
        public var seconds: Double
        public var devices: Int
        public var concurrency: Int
        /// Events committed, and the rate the committers kept.
        public var committed: Int
        public var committedPerSecond: Double
        /// Events the receiver got (first copies), and per second from the first commit to the last arrival.
        public var delivered: Int
        public var deliveriesPerSecond: Double
        /// Commit returned → the receiver has the request.
        public var latency: LatencySummary
        /// Attempts that failed, by error (each was retried with backoff).
        public var failedAttempts: [String: Int]
        public var budgetP99Milliseconds: Double
        public var budgetRate: Double
        public var budgetMet: Bool { delivered == committed && latency.p99 <= budgetP99Milliseconds && committedPerSecond >= budgetRate * 0.95 }

        public var description: String {
            """
            webhooks: \(Int(rate)) events/s for \(Int(seconds)) s over \(devices) devices, webhooks.concurrency \(concurrency) (gateway, receiver and database on this machine)
              committed \(committed) (\(Int(committedPerSecond))/s), delivered \(delivered) (\(Int(deliveriesPerSecond))/s)
              commit → delivery: \(latency)
              failed attempts: \(failedAttempts.isEmpty ? "none" : failedAttempts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
              budget p99 ≤ \(Int(budgetP99Milliseconds)) ms at \(Int(budgetRate)) events/s: \(rate < budgetRate ? "not measured (run at --rate \(Int(budgetRate)))" : budgetMet ? "met" : "MISSED")
            """
        }
    }

    public static func run(serverURL: String, options: Options, metrics: PrometheusCollectorRegistry?, logger: Logger) async throws -> Result {
        let arrivals = Moments()
        let receiver = try await WebhookReceiver.start(answer: { _ in .status(204) }, onRequest: { request in
            arrivals.note(request.id, at: .now)
        })
        defer { Task { await receiver.stop() } }
        var webhooks = WebhookConfiguration()
        webhooks.allowPrivate = true
        webhooks.concurrency = options.concurrency
        return try await BenchDatabase.with(serverURL: serverURL, logger: logger) { database in
            try await InProcessGateway.with(database: database, metrics: metrics, webhooks: webhooks, logger: logger) { gateway in
                let api = gateway.api
                let tenant = try await api.createTenant(name: "Webhooks bench", host: "webhooks.bench.example")
                let body = #"{"url":"\#(receiver.url(path: "/bench"))","events":["device.state"]}"#
                let created = try await api.request(.POST, "/webhooks", host: tenant.host, token: tenant.token, json: body)
                guard created.status == 201 else { throw BenchError("POST /webhooks answered \(created.status)") }
                guard let tenantID = UUID(uuidString: tenant.id) else { throw BenchError("the tenant id is not a UUID") }
                let devices = (0..<max(1, options.devices)).map { _ in UUID() }
                let committerPool = database.pool(maximumConnections: max(1, options.committers))
                defer { Task { await committerPool.close() } }

                // Warm-up: one event per device, delivered before the clock starts.
                var warmUp = Set<String>()
                for device in devices { warmUp.insert(try await commit(device: device, tenantID: tenantID, pool: committerPool).description) }
                try await waitFor(warmUp, arrivals: arrivals, timeout: .seconds(60))

                let commits = Moments()
                let total = Int(options.rate * options.seconds)
                let start = ContinuousClock.now + .milliseconds(100)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for committer in 0..<max(1, options.committers) {
                        group.addTask {
                            for index in stride(from: committer, to: total, by: max(1, options.committers)) {
                                try await Task.sleep(until: start + .seconds(Double(index) / options.rate), clock: .continuous)
                                let id = try await commit(device: devices[index % devices.count], tenantID: tenantID, pool: committerPool)
                                commits.note(id.description, at: .now)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let committedAt = ContinuousClock.now
                let sent = commits.all
                try? await waitFor(Set(sent.keys), arrivals: arrivals, timeout: .seconds(120))
                let got = arrivals.all
                let latencies = sent.compactMap { id, at in got[id].map { max(0, ($0 - at).seconds * 1000) } }
                let last = got.values.max() ?? committedAt
                var failures: [String: Int] = [:]
                for row in try await committerPool.query("SELECT coalesce(detail, error), count(*) FROM webhook_attempts WHERE error IS NOT NULL GROUP BY 1") {
                    failures[try row.decode(0)] = try row.decode(1)
                }
                return Result(
                    rate: options.rate, seconds: options.seconds, devices: devices.count, concurrency: options.concurrency,
                    committed: sent.count, committedPerSecond: Double(sent.count) / max(0.001, (committedAt - start).seconds),
                    delivered: latencies.count, deliveriesPerSecond: Double(latencies.count) / max(0.001, (last - start).seconds),
                    latency: LatencySummary(milliseconds: latencies), failedAttempts: failures, budgetP99Milliseconds: 250, budgetRate: 1000
                )
            }
        }
    }

    /// One event committed in its own transaction, as a change would commit it.
    private static func commit(device: UUID, tenantID: UUID, pool: PostgresPool) async throws -> EventID {
        try await pool.withTransaction { connection in
            try WebhookOutbox.emit(
                .deviceState(DeviceStateChanged(from: "online", to: "backoff", stateReason: "network:1", reason: "network", decision: "backoff", nextAttemptAt: nil)),
                tenantID: tenantID, deviceID: device, at: Date(), on: connection
            )
        }
    }

    /// Until every one of `ids` arrived, or `timeout`.
    private static func waitFor(_ ids: Set<String>, arrivals: Moments, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let missing = ids.subtracting(arrivals.all.keys).count
            if missing == 0 { return }
            guard ContinuousClock.now < deadline else { throw BenchError("\(missing) of \(ids.count) events did not arrive") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The first moment each event id was seen.
    private final class Moments: Sendable {
        private let moments = Mutex<[String: ContinuousClock.Instant]>([:])

        func note(_ id: String, at instant: ContinuousClock.Instant) {
            moments.withLock { if $0[id] == nil { $0[id] = instant } }
        }

        var all: [String: ContinuousClock.Instant] { moments.withLock { $0 } }
    }
}

extension Duration {
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
