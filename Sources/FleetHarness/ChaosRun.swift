import DevicePool
import Foundation
import Logging
import NIOPosix
import PostgresClient
import PostgresStore
import Synchronization
import WASim
import WAWire

/// One `pairgate chaos` run (docs/chaos.md): a real fleet on this machine — PostgreSQL, the
/// simulator, gateway processes — paired through the API, put through a seeded `ChaosSchedule`,
/// then checked against the fleet invariants. `cleanup()` stops whatever is still running.
public final class ChaosRun: Sendable {
    /// What to run; the same seed gives the same fault schedule.
    public struct Options: Sendable {
        public var minutes: Double
        public var devices: Int
        public var seed: UInt64
        /// An existing database instead of a throwaway cluster.
        public var databaseURL: String?
        /// With `databaseURL`: the cluster's data folder, so that pg_ctl can restart it.
        public var dataDirectory: String?
        /// PostgreSQL's server binaries (initdb, pg_ctl).
        public var binaries: String?
        public var gatewayLogLevel = "warning"
        /// The message load: sends per second by simulated contacts through the fault phase (0: none).
        public var messagesPerSecond = 4.0
        /// The send load: `POST /messages` per second from the tenants through the fault phase (0: none).
        public var sendsPerSecond = 3.0
        /// Run the scale-out scenario (`ChaosRun+ScaleOut.swift`) instead of the fault schedule.
        public var scaleOut = false
        /// The scale-out scenario's rebalancing pace (`pool.handovers_per_minute`).
        public var handoversPerMinute = 600
        /// The scale-out scenario fails when a moved device stays offline this long or longer.
        public var offlineBoundSeconds = 5.0

        public init(minutes: Double, devices: Int, seed: UInt64) {
            self.minutes = minutes
            self.devices = devices
            self.seed = seed
        }
    }

    public let options: Options
    public let workDirectory: String
    let state = Mutex(Running())
    private let started = ContinuousClock.now

    /// Everything the run started, for `cleanup()`, and what it did, for the report.
    struct Running {
        var cluster: PostgresCluster?
        var simulator: Simulator?
        var gateways: [GatewayProcess] = []
        var pool: PostgresPool?
        var threadPool: NIOThreadPool?
        var receiver: ChaosReceiver?
        /// Between gateway A and PostgreSQL (a throwaway cluster only), for the partition.
        var proxy: BlackholeProxy?
        var events: [ChaosReport.Event] = []
    }

    /// A run writing its cluster and the gateways' logs under `workDirectory` (which must exist).
    public init(options: Options, workDirectory: String) {
        self.options = options
        self.workDirectory = workDirectory
    }

    private var elapsed: Double {
        (ContinuousClock.now - started).seconds
    }

    func say(_ text: String) {
        // Straight to the descriptor: CI logs show progress as it happens, not when a buffer fills.
        FileHandle.standardOutput.write(Data((String(format: "[%6.1fs] ", elapsed) + text + "\n").utf8))
    }

    func event(_ text: String) {
        state.withLock { $0.events.append(.init(at: (elapsed * 10).rounded() / 10, what: text)) }
        say(text)
    }

    // MARK: The run

    /// Runs the whole chaos run, prints the figures and verdicts, and returns them.
    public func execute() async throws -> ChaosReport {
        var random = SeededRandom(seed: options.seed)
        say("pairgate chaos: \(options.devices) devices, \(HumanDuration.format(.seconds(options.minutes * 60))) of faults, seed \(options.seed), work folder \(workDirectory)")

        let (cluster, pool) = try await startDatabase()

        // Gateway A reaches PostgreSQL through a proxy that can blackhole its traffic; b1 directly.
        var aDatabaseURL: String?
        if let socket = cluster.unixSocketPath {
            let proxy = BlackholeProxy()
            let port = try await proxy.start(upstreamUnixSocket: socket)
            state.withLock { $0.proxy = proxy }
            aDatabaseURL = cluster.url(throughPort: port)
            say("gateway A reaches PostgreSQL through a blackholing proxy on 127.0.0.1:\(port), b1 directly")
        }

        let (simulator, endpoints) = try await startSimulator()

        // The tenants' webhook receiver, in this process: what it got is read directly.
        let receiver = try await ChaosReceiver.start(seed: options.seed)
        state.withLock { $0.receiver = receiver }

        // Gateway A.
        var gatewayConfiguration = gatewayConfiguration(cluster: cluster, simulator: simulator, endpoints: endpoints, random: &random)
        gatewayConfiguration.extraEnvironment.merge(ChaosReceiver.gatewayEnvironment) { first, _ in first }
        // The fault schedule's attempt bound counts crashes, restarts and stops, not rebalancing:
        // the soak keeps the fleet's devices where faults put them (the scale-out scenario,
        // `pairgate chaos --scale-out`, tests handovers).
        gatewayConfiguration.extraEnvironment["PAIRGATE_POOL_HANDOVERS_PER_MINUTE"] = "0"
        let fleet = GatewayFleet(configuration: gatewayConfiguration, workDirectory: workDirectory) { [self] gateway in
            state.withLock { $0.gateways.append(gateway) }
        }
        try await fleet.start("a1", databaseURL: aDatabaseURL)
        event("gateway a1 started (pid \(fleet.gateway("a1")?.pid ?? 0))")

        // Tenants, each with the receiver as its webhook endpoint, then the pairings: one at a
        // time per tenant, tenants in parallel. The receiver's moods change from now on.
        let tenantCount = max(1, min(options.devices, (options.devices + 3) / 4))
        var tenants: [(GatewayClient.Tenant, String)] = []
        for index in 0..<tenantCount {
            let tenant = try await fleet.client().createTenant(name: "Chaos \(index)", host: "t\(index).chaos.test")
            try await receiver.register(tenant, index: index, client: fleet.client())
            tenants.append((tenant, "1555\(2_000_000 + index)"))
        }
        event("webhook receiver registered for \(tenantCount) tenants; its mood changes every 6 s")
        let moods = Task { await receiver.playMoods(period: .seconds(6)) }
        defer { moods.cancel() }
        let pairingStart = ContinuousClock.now
        let pairings = try await pairAll(tenants: tenants, fleet: fleet, simulator: simulator)
        let pairingSeconds = (ContinuousClock.now - pairingStart).seconds
        var record = FleetInvariants.RunRecord()
        record.kept = pairings.map { FleetInvariants.KeptDevice(deviceID: $0.deviceID, jid: $0.jid) }
        record.pairingsPerformed = pairings.count
        let latency = LatencySummary(milliseconds: pairings.map(\.milliseconds))
        say(String(format: "paired %d devices for %d tenants in %.1f s (per pairing p50 %.0f ms, p99 %.0f ms)",
                   pairings.count, tenantCount, pairingSeconds, latency.p50, latency.p99))
        let onlineStart = ContinuousClock.now
        try await waitUntil("every device online", timeout: .seconds(120)) {
            try await self.onlineCount(pool) == pairings.count && pairings.allSatisfy { simulator.stats.isOnline($0.jid) }
        }
        let allOnline = (ContinuousClock.now - onlineStart).seconds
        say(String(format: "all %d devices online %.1f s after the last pairing", pairings.count, allOnline))

        // The fault phase, with contacts writing to every account throughout.
        let load = options.messagesPerSecond > 0 ? try ChaosMessageLoad(simulator: simulator, accounts: tenants.map(\.1)) : nil
        let loadTask = Task { [options] in
            var loadRandom = SeededRandom(seed: options.seed &+ 1)
            await load?.run(simulator: simulator, perSecond: options.messagesPerSecond, random: &loadRandom)
        }
        defer { loadTask.cancel() }
        if load != nil {
            event(String(format: "message load: %.1f messages a second from %d contacts, 1:1 by LID and by phone number and in a group per account",
                         options.messagesPerSecond, ChaosMessageLoad.contactCount))
        }
        // And the tenants sending through POST /messages throughout.
        let sends = options.sendsPerSecond > 0
            ? try ChaosSendLoad(simulator: simulator, senders: pairings.map { .init(tenant: $0.tenant, deviceID: $0.deviceID, jid: $0.jid) })
            : nil
        let sendTask = Task { [options] in
            var sendRandom = SeededRandom(seed: options.seed &+ 2)
            await sends?.run(fleet: fleet, perSecond: options.sendsPerSecond, random: &sendRandom)
        }
        defer { sendTask.cancel() }
        if sends != nil {
            event(String(format: "send load: %.1f POST /messages a second from random devices to %d contacts by phone number",
                         options.sendsPerSecond, ChaosSendLoad.contactCount))
        }
        let tenantOf = Dictionary(uniqueKeysWithValues: pairings.map { ($0.deviceID, $0.tenant) })
        let faults = try await faultPhase(
            fleet: fleet, cluster: cluster, simulator: simulator, pool: pool, aDatabaseURL: aDatabaseURL,
            record: &record, tenantOf: tenantOf, random: &random
        )
        loadTask.cancel()
        sendTask.cancel()
        await loadTask.value
        await sendTask.value

        // Settle, then check.
        simulator.faults.clear()
        moods.cancel()
        receiver.mood = .healthy
        let settleStart = ContinuousClock.now
        let expected = record
        say("fault phase over: faults disarmed, the receiver healthy, letting the fleet settle and the webhooks drain")
        do {
            try await waitUntil("the fleet to settle", timeout: .seconds(180)) {
                try await self.settled(pool: pool, simulator: simulator, record: expected)
            }
        } catch {
            say("the fleet did not settle within 180 s; checking anyway")
        }
        let settleSeconds = (ContinuousClock.now - settleStart).seconds
        say(String(format: "settled after %.1f s", settleSeconds))

        // The settled fleet under a flood of unauthenticated requests.
        let (flood, floodCheck) = try await floodStep(
            fleet: fleet, tenants: tenants.map(\.0), simulator: simulator, pool: pool, record: record
        )

        let snapshot = simulator.statsSnapshot(includeDevices: true)
        let view = FleetInvariants.SimulatorView(
            maxConcurrentPerDevice: snapshot.maxConcurrentPerDevice,
            devicesOverOne: snapshot.devicesOverOne,
            loginsByDevice: Dictionary(uniqueKeysWithValues: (snapshot.devices ?? []).map { ($0.jid, $0.logins) }),
            onlineDevices: Set((snapshot.devices ?? []).filter { $0.live > 0 }.map(\.jid)),
            pairingsCompleted: snapshot.pairingsCompleted
        )
        let committed = try await FleetInvariants.committedEvents(pool)
        let received = receiver.received()
        var checks = try await FleetInvariants.check(pool: pool, simulator: view, run: record) + [floodCheck]
            + FleetInvariants.webhookChecks(committed: committed, received: received, paths: receiver.paths, changes: try await FleetInvariants.changes(pool))
        var messages: ChaosReport.Messages?
        let relayed = simulator.stats.relayedCopies().map { FleetInvariants.RelayedCopy(id: $0.id, device: $0.sibling) }
        if let load {
            let delivery = Self.deliveryView(snapshot)
            let sent = load.sent, stored = try await FleetInvariants.storedMessages(pool)
            checks += FleetInvariants.messageChecks(sent: sent, stored: stored, delivery: delivery, run: record, relayed: relayed)
            messages = .init(
                sent: sent.count, sendFailures: load.failures, copies: sent.reduce(0) { $0 + $1.devices.count },
                stored: stored.reduce(0) { $0 + $1.rows }, offered: delivery.offered, acked: delivery.acked,
                redelivered: delivery.redelivered, retried: delivery.retried, ackDeadlineClosures: delivery.ackDeadlineClosures
            )
        }

        var sent: ChaosReport.Sends?
        if let sends {
            let figures = sends.figures
            let view = FleetInvariants.SendLoadView(
                requests: figures.requests, accepted: figures.accepted, refused: figures.refused, unclear: figures.unclear,
                queuedByKey: try await sends.queuedByKey(pool)
            )
            let outbound = try await FleetInvariants.outboundRows(pool)
            let arrivals = simulator.stats.arrivals()
            let attempts = try await FleetInvariants.sendAttempts(pool)
            checks += FleetInvariants.sendChecks(
                load: view, outbound: outbound, arrivals: arrivals, attempts: attempts, holders: try await FleetInvariants.epochHolders(pool), run: record
            )
            var statuses: [String: Int] = [:]
            for message in view.messages { statuses[outbound[message.waID]?.status ?? "missing", default: 0] += 1 }
            sent = .init(
                requests: figures.requests, accepted: figures.accepted.count, refused: figures.refused, unanswered: figures.unclear.count,
                lostAnswers: figures.lostAnswers, statuses: statuses, attempts: attempts.count, arrivals: arrivals.count,
                redelivered: arrivals.filter { $0.outcome == .duplicate }.count, relayed: relayed.count
            )
        }

        var gateways: [ChaosReport.Gateway] = []
        for gateway in fleet.running {
            let usage = await gateway.usage()
            gateways.append(.init(
                instance: gateway.instanceID,
                residentMiB: usage.map { Self.tenths(Double($0.residentBytes) / 1_048_576) },
                cpuSeconds: usage.map { Self.tenths($0.cpuSeconds) }
            ))
        }
        var report = ChaosReport(
            seed: options.seed, minutes: options.minutes, devices: options.devices, tenants: tenantCount,
            pairingSeconds: Self.tenths(pairingSeconds), pairingP50Milliseconds: latency.p50.rounded(),
            pairingP99Milliseconds: latency.p99.rounded(), allOnlineAfterPairingSeconds: Self.tenths(allOnline),
            settleSeconds: Self.tenths(settleSeconds), events: state.withLock { $0.events },
            faultsInjected: snapshot.faultsInjected, liveFaultsByKind: faults.live,
            removedDevices: record.removed.count, replacedDevices: faults.replaced, fleetEvents: record.fleetEvents,
            connectionsAccepted: snapshot.connectionsAccepted, logins: snapshot.logins, violations: snapshot.violationCount,
            gateways: gateways, invariants: checks,
            webhooks: .init(events: committed.count, requests: received.count, accepted: received.filter(\.accepted).count, moods: receiver.moodsPlayed),
            messages: messages, partition: faults.partition, flood: flood
        )
        report.sends = sent
        FileHandle.standardOutput.write(Data((([""] + report.lines).joined(separator: "\n") + "\n").utf8))
        return report
    }

    // MARK: Parts

    /// PostgreSQL (a throwaway cluster, or the given database), migrated, and the run's pool.
    func startDatabase() async throws -> (PostgresCluster, PostgresPool) {
        let cluster: PostgresCluster
        if let url = options.databaseURL {
            cluster = try await PostgresCluster.existing(url: url, dataDirectory: options.dataDirectory, binaries: options.binaries)
        } else {
            cluster = try await PostgresCluster.start(in: workDirectory, binaries: options.binaries)
        }
        state.withLock { $0.cluster = cluster }
        let threadPool = NIOThreadPool(numberOfThreads: 4)
        threadPool.start()
        var database = PostgresConfiguration(url: cluster.url)
        database.maximumConnections = 4
        let pool = PostgresPool(configuration: database, threadPool: threadPool, logger: Logger(label: "pairgate.chaos.postgres"))
        state.withLock {
            $0.pool = pool
            $0.threadPool = threadPool
        }
        try await PairgateSchema.migrator(pool: pool, logger: Logger(label: "pairgate.chaos")).migrate()
        say("PostgreSQL ready (\(cluster.isThrowaway ? "throwaway cluster" : "given database")), schema current")
        return (cluster, pool)
    }

    /// The simulator, in this process: its stats are read directly.
    func startSimulator() async throws -> (Simulator, Simulator.Endpoints) {
        var simConfiguration = SimConfiguration()
        simConfiguration.server = .init(host: "127.0.0.1", port: 0)
        simConfiguration.control = .init(host: "127.0.0.1", port: 0)
        let simulator = try Simulator(configuration: simConfiguration, logger: Logger(label: "pairgate.chaos.sim"))
        state.withLock { $0.simulator = simulator }
        let endpoints = try await simulator.start()
        say("simulator at \(endpoints.webSocketURL)")
        return (simulator, endpoints)
    }

    /// The gateways' settings: the simulator as upstream, keys shared by every instance.
    func gatewayConfiguration(
        cluster: PostgresCluster, simulator: Simulator, endpoints: Simulator.Endpoints, random: inout SeededRandom
    ) -> GatewayProcess.Configuration {
        var linkKey = [UInt8](repeating: 0, count: 32)
        for index in linkKey.indices { linkKey[index] = UInt8.random(in: 0...255, using: &random) }
        var configuration = GatewayProcess.Configuration(
            databaseURL: cluster.url, upstreamURL: endpoints.webSocketURL, upstreamRootKey: simulator.rootPublicKeyHex,
            masterKey: MasterKey.generate(id: "chaos"), adminToken: "chaos-admin-\(UUID().uuidString)", linkKey: Data(linkKey).base64EncodedString()
        )
        configuration.logLevel = options.gatewayLogLevel
        // Pairing many devices per tenant back to back is the point here, not the per-tenant rate limit.
        // A debug build on a busy machine may need more than 5 s for the first QR. The simulator
        // accepts any WhatsApp Web version: the fleet has no business reaching web.whatsapp.com.
        configuration.extraEnvironment = [
            "PAIRGATE_HTTP_PAIR_BURST": "10000", "PAIRGATE_HTTP_PAIR_RATE_PER_MINUTE": "100000", "PAIRGATE_HTTP_FIRST_CODE_WAIT_MS": "20000",
            "PAIRGATE_UPSTREAM_VERSION_CHECK_INTERVAL_SECONDS": "0",
        ]
        return configuration
    }

    /// Stops every gateway (SIGTERM, then SIGKILL), the simulator and a throwaway cluster. Idempotent.
    public func cleanup() async {
        let running = state.withLock { state -> Running in
            defer {
                state.gateways = []
                state.simulator = nil
                state.cluster = nil
                state.pool = nil
                state.threadPool = nil
                state.receiver = nil
                state.proxy = nil
            }
            return state
        }
        for gateway in running.gateways where !gateway.process.hasExited {
            await gateway.terminate(grace: .seconds(10))
        }
        await running.simulator?.shutdown()
        await running.receiver?.stop()
        await running.proxy?.stop()
        await running.pool?.close()
        try? await running.threadPool?.shutdownGracefully()
        await running.cluster?.destroy()
    }

    /// The simulator's delivery figures as the message invariants read them.
    private static func deliveryView(_ snapshot: SimStatsSnapshot) -> FleetInvariants.DeliveryView {
        let devices = snapshot.devices ?? []
        return FleetInvariants.DeliveryView(
            offered: snapshot.stanzasOffered, acked: snapshot.stanzasAcked, redelivered: snapshot.stanzasRedelivered,
            retried: snapshot.retriesAnswered, ackDeadlineClosures: snapshot.ackDeadlineClosures,
            answerViolations: snapshot.violationsByKind.filter { ["unexpected_answer", "missing_answer"].contains($0.key) },
            pending: Dictionary(devices.map { ($0.jid, $0.pending) }, uniquingKeysWith: max),
            oldestPendingSeconds: Dictionary(devices.compactMap { device in device.oldestPendingSeconds.map { (device.jid, $0) } }, uniquingKeysWith: max)
        )
    }

    static func tenths(_ value: Double) -> Double {
        (value * 10).rounded() / 10
    }

    // MARK: Waiting and reading

    private func onlineCount(_ pool: PostgresPool) async throws -> Int {
        Int(try await pool.query("SELECT count(*)::bigint FROM devices WHERE state = 'online'")[0].decode(0, as: Int64.self))
    }

    func state(of device: UUID, pool: PostgresPool) async throws -> String {
        try await pool.query("SELECT state FROM devices WHERE id = $1", [device])[0].decode(0)
    }

    private func settled(pool: PostgresPool, simulator: Simulator, record: FleetInvariants.RunRecord) async throws -> Bool {
        let rows = try await pool.query("SELECT id, state FROM devices")
        var states: [UUID: String] = [:]
        for row in rows { states[try row.decode(0)] = try row.decode(1) }
        let open = try await pool.query("SELECT count(*)::bigint FROM pairing_sessions WHERE ended_at IS NULL")[0].decode(0, as: Int64.self)
        let undelivered = try await pool.query(
            "SELECT count(*)::bigint FROM webhook_deliveries WHERE status IN ('pending', 'delivering')"
        )[0].decode(0, as: Int64.self)
        // The send load is drained: every accepted message is past `queued` (sent or failed).
        let queued = try await pool.query("SELECT count(*)::bigint FROM messages WHERE status = 'queued'")[0].decode(0, as: Int64.self)
        // The message load is answered: no kept device has a stanza waiting in the simulator.
        let pending = Dictionary((simulator.statsSnapshot(includeDevices: true).devices ?? []).map { ($0.jid, $0.pending) }, uniquingKeysWith: max)
        return open == 0 && undelivered == 0 && queued == 0
            && record.kept.allSatisfy { states[$0.deviceID] == "online" && simulator.stats.isOnline($0.jid) && pending[$0.jid, default: 0] == 0 }
            && record.removed.allSatisfy { states[$0.deviceID] == "logged_out" }
    }

    /// Polls `condition` every 250 ms until it holds; throws after `timeout`.
    func waitUntil(_ what: String, timeout: Duration, _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if (try? await condition()) == true { return }
            guard ContinuousClock.now < deadline else { throw FleetHarnessError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}
