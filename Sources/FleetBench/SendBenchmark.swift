import AdminAPI
import DevicePool
import FleetHarness
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresClient
import Prometheus
import Synchronization
import WASim
import WAWire

/// `pairgate bench send`: messages out through the whole path — `POST /messages` (the outbox row,
/// written with its WhatsApp id in the request's transaction) → the device actor's drain (the row
/// read, device lists and sessions loaded, Signal encryption, the advanced state committed) → the
/// `<message>` stanza over a real connection → the simulator's contact decrypts it and the server
/// acks → the ack's `sent` committed — and its latency, POST → `sent`, at a steady rate (budget:
/// p99 ≤ 50 ms at 500 messages/s over 1,000 devices, pacing off; ../shared/design/ARCHITECTURE.md).
///
/// The gateway runs in this process as `pairgate serve` builds it, its devices paired through the
/// API and the in-process simulator's phones (nothing written to the database directly). Each
/// device first sends two messages to its contact, unmeasured, so the measured sends find their
/// device lists and sessions (as in steady traffic). The POSTs then go out open-loop at the
/// rate, round robin over the devices. `sent` is seen by polling the rows still waiting every
/// `pollMilliseconds` on a connection of the benchmark's own: the latency ends at the start of the
/// poll that saw the status (the commit happened before that poll's snapshot, and after the previous
/// one's), so it is at most one poll interval late. A second phase sends as fast as the API takes
/// (`saturationMessages`, closed loop) for the most messages per second the path carries here.
public enum SendBenchmark {
    public struct Options: Sendable {
        public var devices = 1000
        /// Tenants owning the devices (one pairing at a time per tenant, in parallel).
        public var tenants = 100
        /// Simulated contacts; device i writes to contact i mod contacts.
        public var contacts = 100
        public var rate = 500.0
        public var seconds = 10.0
        public var pollMilliseconds = 2
        /// Messages of the closed-loop phase (0: skip it).
        public var saturationMessages = 5000
        /// POSTs in flight at once in the closed-loop phase.
        public var saturationConcurrency = 32
        /// PostgreSQL connections of the gateway's pool.
        public var connections = 10

        public init() {}
    }

    public struct Result: Sendable, Codable, CustomStringConvertible {
        public var devices: Int
        public var tenants: Int
        public var contacts: Int
        public var connections: Int
        public var rate: Double
        public var seconds: Double
        public var pollMilliseconds: Int
        /// Steady phase: POSTs answered 202, and how many reached `sent` (and `failed`).
        public var accepted: Int
        public var sent: Int
        public var failed: Int
        /// The rate the POSTs kept, and `sent` per second from the first POST to the last `sent`.
        public var postedPerSecond: Double
        public var sentPerSecond: Double
        /// POST /messages → its 202.
        public var post: LatencySummary
        /// POST /messages sent → `sent` committed (seen by the poll).
        public var toSent: LatencySummary
        /// Closed-loop phase: messages, and `sent` per second from the first POST to the last `sent`.
        public var saturationMessages: Int
        public var saturationSentPerSecond: Double
        /// Prekey bundles the simulator handed out during the steady phase: new sessions (X3DH) on
        /// the send path. After the warm-up every device has its sessions, so this stays 0.
        public var steadyPreKeyBundles: Int
        /// What the simulator's contacts made of it all (warm-up included): distinct ids, duplicates.
        public var contactsReceived: Int
        public var contactsDuplicates: Int
        public var violations: Int
        public var budgetP99Milliseconds: Double
        public var budgetRate: Double
        public var budgetDevices: Int
        public var budgetMet: Bool {
            toSent.p99 <= budgetP99Milliseconds && sent == accepted && postedPerSecond >= budgetRate * 0.95
        }

        public var description: String {
            let budget = rate < budgetRate || devices < budgetDevices
                ? "not measured (run at --rate \(Int(budgetRate)) over --devices \(budgetDevices))"
                : budgetMet ? "met" : "MISSED"
            return """
            send: \(Int(rate)) messages/s for \(Int(seconds)) s over \(devices) devices (\(tenants) tenants, \(contacts) contacts), pacing off, \
            \(connections) PostgreSQL connections (gateway, simulator and database on this machine)
              accepted \(accepted) (\(Int(postedPerSecond)) POST/s), sent \(sent), failed \(failed); \(Int(sentPerSecond)) sent/s
              POST /messages → 202:  \(post)
              POST /messages → sent: \(toSent) (seen by a poll every \(pollMilliseconds) ms)
              budget p99 ≤ \(Int(budgetP99Milliseconds)) ms at \(Int(budgetRate)) messages/s over \(budgetDevices) devices: \(budget)
              new sessions in the steady phase: \(steadyPreKeyBundles) prekey bundles fetched (0 after the warm-up)
              closed loop: \(saturationMessages) messages, \(Int(saturationSentPerSecond)) sent/s
              contacts received \(contactsReceived) distinct ids, \(contactsDuplicates) duplicates; simulator violations \(violations)
            """
        }
    }

    public static func run(serverURL: String, options: Options, metrics: PrometheusCollectorRegistry?, logger: Logger) async throws -> Result {
        var simulator = SimConfiguration()
        simulator.threads = 1
        return try await BenchDatabase.with(serverURL: serverURL, logger: logger) { database in
            try await InProcessGateway.with(
                database: database, metrics: metrics, simulator: simulator, connections: options.connections,
                configurePool: { $0.sendRatePerMinute = nil }, logger: logger
            ) { gateway in
                let watcher = database.pool(maximumConnections: 1)
                do {
                    let result = try await run(gateway: gateway, watcher: watcher, options: options)
                    await watcher.close()
                    return result
                } catch {
                    await watcher.close()
                    throw error
                }
            }
        }
    }

    /// A device of the run: its tenant's host and token, its id, its contact.
    private struct Sender: Sendable {
        var tenant: BenchAPIClient.Tenant
        var deviceID: String
        var contact: String
    }

    private static func run(gateway: InProcessGateway, watcher: PostgresPool, options: Options) async throws -> Result {
        let api = gateway.api
        let simulator = gateway.simulator
        // 1. Devices, paired through the API and the simulated phones; contacts.
        var tenants: [BenchAPIClient.Tenant] = []
        for index in 0..<options.tenants {
            tenants.append(try await api.createTenant(name: "Send \(index)", host: "s\(index).bench.example"))
        }
        let contacts = try (0..<options.contacts).map { index in
            try simulator.contact(String(format: "1555800%04d", index), name: "Contact \(index)").phoneNumber
        }
        print("pairing \(options.devices) devices (not measured)")
        let progress = Progress(total: options.devices)
        let paired = try await withThrowingTaskGroup(of: [(BenchAPIClient.Tenant, String)].self) { group in
            for (index, tenant) in tenants.enumerated() {
                let count = options.devices / options.tenants + (index < options.devices % options.tenants ? 1 : 0)
                let phone = String(format: "4471%08d", index)
                group.addTask {
                    var devices: [(BenchAPIClient.Tenant, String)] = []
                    for _ in 0..<count {
                        devices.append((tenant, try await api.pairDevice(tenant) { qr in _ = try await simulator.scan(qr: qr, phone: phone) }))
                        progress.step()
                    }
                    return devices
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let senders = paired.sorted { $0.1 < $1.1 }.enumerated().map { index, device in
            Sender(tenant: device.0, deviceID: device.1, contact: contacts[index % contacts.count])
        }
        try await FleetBenchmark.waitUntil(options.devices, online: simulator, limit: .seconds(300))

        // 2. Warm-up: one message per device, so the measured ones find lists and sessions.
        print("warming up: two messages per device, one after the other (not measured)")
        for round in 0..<2 {
            let warmUp = try await post(senders.map { ($0, "warm-up \(round)") }, concurrency: 64, api: api)
            _ = try await awaitSent(warmUp.map(\.id), watcher: watcher, pollMilliseconds: 20, limit: .seconds(600))
            // Their read receipts come 2 s later; let them land (a receipt may teach the contact's LID).
            try await Task.sleep(for: .seconds(3))
        }

        // 3. The steady rate, open loop.
        let total = Int(options.rate * options.seconds)
        let bundlesBefore = simulator.statsSnapshot().preKeyBundlesServed
        print("measuring: \(total) messages at \(Int(options.rate))/s")
        let waiting = Waiting()
        let steadyStart = ContinuousClock.now
        let poller = Task { try await poll(waiting, watcher: watcher, every: .milliseconds(options.pollMilliseconds)) }
        let answers = try await withThrowingTaskGroup(of: (Double, Bool).self) { group in
            for index in 0..<total {
                let sender = senders[index % senders.count]
                let due = steadyStart + .seconds(Double(index) / options.rate)
                group.addTask {
                    try await Task.sleep(until: due, clock: .continuous)
                    let begun = ContinuousClock.now
                    let reply = try await api.request(
                        .POST, "/messages", host: sender.tenant.host, token: sender.tenant.token,
                        json: #"{"device_id":"\#(sender.deviceID)","to":"+\#(sender.contact)","text":"bench \#(index)"}"#
                    )
                    let answered = ContinuousClock.now
                    guard reply.status == 202, let id = reply.json["id"] as? String else { return ((answered - begun).milliseconds, false) }
                    waiting.add(id, since: begun)
                    return ((answered - begun).milliseconds, true)
                }
            }
            return try await group.reduce(into: [(Double, Bool)]()) { $0.append($1) }
        }
        let postedSeconds = (ContinuousClock.now - steadyStart).seconds
        let accepted = answers.filter(\.1).count
        try await waiting.drained(limit: .seconds(120))
        poller.cancel()
        let seen = waiting.seen
        let lastSent = seen.map(\.at).max() ?? steadyStart
        let steadyBundles = simulator.statsSnapshot().preKeyBundlesServed - bundlesBefore
        let steadySent = seen.filter { $0.status != "failed" }

        // 4. Closed loop: as fast as the API takes them.
        var saturationRate = 0.0
        if options.saturationMessages > 0 {
            try await Task.sleep(for: .seconds(3))
            print("closed loop: \(options.saturationMessages) messages, \(options.saturationConcurrency) POSTs at a time")
            let start = ContinuousClock.now
            let work = (0..<options.saturationMessages).map { (senders[$0 % senders.count], "burst \($0)") }
            let posted = try await post(work, concurrency: options.saturationConcurrency, api: api)
            let end = try await awaitSent(posted.map(\.id), watcher: watcher, pollMilliseconds: 5, limit: .seconds(600))
            saturationRate = Double(posted.count) / (end - start).seconds
        }

        try await Task.sleep(for: .seconds(3))
        let stats = simulator.statsSnapshot()
        return Result(
            devices: options.devices, tenants: options.tenants, contacts: options.contacts, connections: options.connections,
            rate: options.rate, seconds: options.seconds, pollMilliseconds: options.pollMilliseconds,
            accepted: accepted, sent: steadySent.count, failed: seen.count - steadySent.count,
            postedPerSecond: Double(accepted) / postedSeconds, sentPerSecond: Double(steadySent.count) / (lastSent - steadyStart).seconds,
            post: LatencySummary(milliseconds: answers.map(\.0)), toSent: LatencySummary(milliseconds: steadySent.map(\.milliseconds)),
            saturationMessages: options.saturationMessages, saturationSentPerSecond: saturationRate, steadyPreKeyBundles: steadyBundles,
            contactsReceived: stats.receivedByContact.values.reduce(0, +), contactsDuplicates: stats.duplicatesByContact.values.reduce(0, +),
            violations: stats.violationCount, budgetP99Milliseconds: 50, budgetRate: 500, budgetDevices: 1000
        )
    }

    /// POSTs every (device, text), `concurrency` at a time; the accepted messages' ids.
    private static func post(_ work: [(Sender, String)], concurrency: Int, api: BenchAPIClient) async throws -> [(id: String, at: ContinuousClock.Instant)] {
        try await withThrowingTaskGroup(of: (String, ContinuousClock.Instant).self) { group in
            var ids: [(id: String, at: ContinuousClock.Instant)] = []
            for (index, (sender, text)) in work.enumerated() {
                if index >= concurrency, let done = try await group.next() { ids.append(done) }
                group.addTask {
                    let begun = ContinuousClock.now
                    var reply = try await api.request(
                        .POST, "/messages", host: sender.tenant.host, token: sender.tenant.token,
                        json: #"{"device_id":"\#(sender.deviceID)","to":"+\#(sender.contact)","text":"\#(text)"}"#
                    )
                    // The API sheds load beyond its authentication line (503 overloaded): as a client would, try again.
                    while reply.status == 503 {
                        try await Task.sleep(for: .milliseconds(20))
                        reply = try await api.request(
                            .POST, "/messages", host: sender.tenant.host, token: sender.tenant.token,
                            json: #"{"device_id":"\#(sender.deviceID)","to":"+\#(sender.contact)","text":"\#(text)"}"#
                        )
                    }
                    guard reply.status == 202, let id = reply.json["id"] as? String else {
                        throw BenchError("POST /messages answered \(reply.status): \(String(buffer: reply.body))")
                    }
                    return (id, begun)
                }
            }
            for try await done in group { ids.append(done) }
            return ids
        }
    }

    /// Waits until none of `ids` is queued; when the last one left the queue (as polled).
    private static func awaitSent(
        _ ids: [String], watcher: PostgresPool, pollMilliseconds: Int, limit: Duration
    ) async throws -> ContinuousClock.Instant {
        let deadline = ContinuousClock.now + limit
        let array = PostgresArray(ids.compactMap(UUID.init(uuidString:)))
        while ContinuousClock.now < deadline {
            let at = ContinuousClock.now
            let queued: Int64 = try await watcher.query(
                "SELECT count(*)::bigint FROM messages WHERE id = ANY ($1::uuid[]) AND status = 'queued'", [array]
            )[0].decode(0)
            if queued == 0 { return at }
            try await Task.sleep(for: .milliseconds(pollMilliseconds))
        }
        throw BenchError("\(ids.count) messages were not all sent within \(limit)")
    }

    /// Polls the waiting messages; each one no longer queued is seen at the start of that poll.
    private static func poll(_ waiting: Waiting, watcher: PostgresPool, every interval: Duration) async throws {
        while !Task.isCancelled {
            let ids = waiting.ids
            if !ids.isEmpty {
                let at = ContinuousClock.now
                let rows = try await watcher.query(
                    "SELECT id, status FROM messages WHERE id = ANY ($1::uuid[]) AND status <> 'queued'", [PostgresArray(ids)]
                )
                for row in rows {
                    waiting.saw(try row.decode("id", as: UUID.self), status: try row.decode("status", as: String.self), at: at)
                }
            }
            try await Task.sleep(for: interval)
        }
    }

    /// The accepted messages not yet seen out of the queue, and those seen.
    private final class Waiting: Sendable {
        struct Seen: Sendable {
            var status: String
            var at: ContinuousClock.Instant
            var milliseconds: Double
        }

        private struct State {
            var waiting: [UUID: ContinuousClock.Instant] = [:]
            var seen: [Seen] = []
        }

        private let state = Mutex(State())

        func add(_ id: String, since: ContinuousClock.Instant) {
            guard let uuid = UUID(uuidString: id) else { return }
            state.withLock { $0.waiting[uuid] = since }
        }

        var ids: [UUID] { state.withLock { Array($0.waiting.keys) } }
        var seen: [Seen] { state.withLock { $0.seen } }

        func saw(_ id: UUID, status: String, at: ContinuousClock.Instant) {
            state.withLock { state in
                guard let since = state.waiting.removeValue(forKey: id) else { return }
                state.seen.append(Seen(status: status, at: at, milliseconds: (at - since).milliseconds))
            }
        }

        /// Waits (checking every 10 ms) until nothing waits.
        func drained(limit: Duration) async throws {
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                if state.withLock({ $0.waiting.isEmpty }) { return }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw BenchError("\(state.withLock { $0.waiting.count }) messages were still queued \(limit) after the last POST")
        }
    }
}

extension Duration {
    fileprivate var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) * 1e-15 }
}
