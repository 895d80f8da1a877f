import DevicePool
import FleetHarness
import Foundation
import Logging
import NIOPosix
import PostgresClient
import PostgresStore
import Synchronization
import WASim

/// The figures and verdicts of one chaos run (printed, and written with --json).
struct ChaosReport: Codable, Sendable {
    struct Event: Codable, Sendable {
        var at: Double
        var what: String
    }

    struct Gateway: Codable, Sendable {
        var instance: String
        var residentMiB: Double?
        var cpuSeconds: Double?
    }

    var seed: UInt64
    var minutes: Double
    var devices: Int
    var tenants: Int
    var pairingSeconds: Double
    var pairingP50Milliseconds: Double
    var pairingP99Milliseconds: Double
    var allOnlineAfterPairingSeconds: Double
    var settleSeconds: Double
    var events: [Event]
    var faultsInjected: [String: Int]
    var liveFaultsByKind: [String: Int]
    var removedDevices: Int
    var replacedDevices: Int
    var fleetEvents: Int
    var connectionsAccepted: Int
    var logins: Int
    var violations: Int
    var gateways: [Gateway]
    var invariants: [FleetInvariants.Check]
}

/// One chaos run: the fleet, the schedule, the checks. `cleanup()` stops whatever is still running.
final class ChaosRun: Sendable {
    struct Options: Sendable {
        var minutes: Double
        var devices: Int
        var seed: UInt64
        var databaseURL: String?
        var dataDirectory: String?
        var binaries: String?
        var gatewayLogLevel = "warning"
    }

    let options: Options
    let workDirectory: String
    private let state = Mutex(Running())
    private let started = ContinuousClock.now

    private struct Running {
        var cluster: PostgresCluster?
        var simulator: Simulator?
        var gateways: [GatewayProcess] = []
        var pool: PostgresPool?
        var threadPool: NIOThreadPool?
        var events: [ChaosReport.Event] = []
    }

    init(options: Options, workDirectory: String) {
        self.options = options
        self.workDirectory = workDirectory
    }

    private var elapsed: Double {
        let duration = ContinuousClock.now - started
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private func say(_ text: String) {
        // Straight to the descriptor: CI logs show progress as it happens, not when a buffer fills.
        FileHandle.standardOutput.write(Data((String(format: "[%6.1fs] ", elapsed) + text + "\n").utf8))
    }

    private func event(_ text: String) {
        state.withLock { $0.events.append(.init(at: (elapsed * 10).rounded() / 10, what: text)) }
        say(text)
    }

    // MARK: The run

    func execute() async throws -> ChaosReport {
        var random = SplitMix64(seed: options.seed)
        say("pairgate chaos: \(options.devices) devices, \(HumanDuration.format(.seconds(options.minutes * 60))) of faults, seed \(options.seed), work folder \(workDirectory)")

        // PostgreSQL and the schema.
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

        // The simulator, in this process: its stats are read directly.
        var simConfiguration = SimConfiguration()
        simConfiguration.server = .init(host: "127.0.0.1", port: 0)
        simConfiguration.control = .init(host: "127.0.0.1", port: 0)
        let simulator = try Simulator(configuration: simConfiguration, logger: Logger(label: "pairgate.chaos.sim"))
        state.withLock { $0.simulator = simulator }
        let endpoints = try await simulator.start()
        say("simulator at \(endpoints.webSocketURL)")

        // Gateway A.
        var linkKey = [UInt8](repeating: 0, count: 32)
        for index in linkKey.indices { linkKey[index] = UInt8.random(in: 0...255, using: &random) }
        var gatewayConfiguration = GatewayProcess.Configuration(
            databaseURL: cluster.url, upstreamURL: endpoints.webSocketURL, upstreamRootKey: simulator.rootPublicKeyHex,
            masterKey: MasterKey.generate(id: "chaos"), adminToken: "chaos-admin-\(UUID().uuidString)", linkKey: Data(linkKey).base64EncodedString()
        )
        gatewayConfiguration.logLevel = options.gatewayLogLevel
        // Pairing many devices per tenant back to back is the point here, not the per-tenant rate limit.
        // A debug build on a busy machine may need more than 5 s for the first QR.
        gatewayConfiguration.extraEnvironment = [
            "PAIRGATE_HTTP_PAIR_BURST": "10000", "PAIRGATE_HTTP_PAIR_RATE_PER_MINUTE": "100000", "PAIRGATE_HTTP_FIRST_CODE_WAIT_MS": "20000",
        ]
        let fleet = Fleet(configuration: gatewayConfiguration, workDirectory: workDirectory) { [self] gateway in
            state.withLock { $0.gateways.append(gateway) }
        }
        try await fleet.start("a1")
        event("gateway a1 started (pid \(fleet.gateway("a1")?.pid ?? 0))")

        // Tenants, then the pairings: one at a time per tenant, tenants in parallel.
        let tenantCount = max(1, min(options.devices, (options.devices + 3) / 4))
        var tenants: [(GatewayClient.Tenant, String)] = []
        for index in 0..<tenantCount {
            let tenant = try await fleet.client().createTenant(name: "Chaos \(index)", host: "t\(index).chaos.test")
            tenants.append((tenant, "1555\(2_000_000 + index)"))
        }
        let pairingStart = ContinuousClock.now
        let pairings = try await pairAll(tenants: tenants, fleet: fleet, simulator: simulator)
        let pairingSeconds = (ContinuousClock.now - pairingStart).seconds
        var record = FleetInvariants.RunRecord()
        record.kept = pairings.map { FleetInvariants.KeptDevice(deviceID: $0.deviceID, jid: $0.jid) }
        record.pairingsPerformed = pairings.count
        let durations = pairings.map(\.milliseconds).sorted()
        say(String(format: "paired %d devices for %d tenants in %.1f s (per pairing p50 %.0f ms, p99 %.0f ms)",
                   pairings.count, tenantCount, pairingSeconds, percentile(durations, 0.5), percentile(durations, 0.99)))
        let onlineStart = ContinuousClock.now
        try await waitUntil("every device online", timeout: .seconds(120)) {
            try await self.onlineCount(pool) == pairings.count && pairings.allSatisfy { simulator.stats.isOnline($0.jid) }
        }
        let allOnline = (ContinuousClock.now - onlineStart).seconds
        say(String(format: "all %d devices online %.1f s after the last pairing", pairings.count, allOnline))

        // The fault phase.
        let tenantOf = Dictionary(uniqueKeysWithValues: pairings.map { ($0.deviceID, $0.tenant) })
        let faults = try await faultPhase(
            fleet: fleet, cluster: cluster, simulator: simulator, pool: pool, record: &record, tenantOf: tenantOf, random: &random
        )

        // Settle, then check.
        simulator.faults.clear()
        let settleStart = ContinuousClock.now
        let expected = record
        say("fault phase over: faults disarmed, letting the fleet settle")
        do {
            try await waitUntil("the fleet to settle", timeout: .seconds(180)) {
                try await self.settled(pool: pool, simulator: simulator, record: expected)
            }
        } catch {
            say("the fleet did not settle within 180 s; checking anyway")
        }
        let settleSeconds = (ContinuousClock.now - settleStart).seconds
        say(String(format: "settled after %.1f s", settleSeconds))

        let snapshot = simulator.stats.snapshot(includeDevices: true)
        let view = FleetInvariants.SimulatorView(
            maxConcurrentPerDevice: snapshot.maxConcurrentPerDevice,
            devicesOverOne: snapshot.devicesOverOne,
            loginsByDevice: Dictionary(uniqueKeysWithValues: (snapshot.devices ?? []).map { ($0.jid, $0.logins) }),
            onlineDevices: Set((snapshot.devices ?? []).filter { $0.live > 0 }.map(\.jid)),
            pairingsCompleted: snapshot.pairingsCompleted
        )
        let checks = try await FleetInvariants.check(pool: pool, simulator: view, run: record)

        var gateways: [ChaosReport.Gateway] = []
        for gateway in fleet.running {
            let usage = await gateway.usage()
            gateways.append(.init(
                instance: gateway.instanceID,
                residentMiB: usage.map { (Double($0.residentBytes) / 1_048_576 * 10).rounded() / 10 },
                cpuSeconds: usage.map { ($0.cpuSeconds * 10).rounded() / 10 }
            ))
        }
        let report = ChaosReport(
            seed: options.seed, minutes: options.minutes, devices: options.devices, tenants: tenantCount,
            pairingSeconds: rounded(pairingSeconds), pairingP50Milliseconds: percentile(durations, 0.5).rounded(),
            pairingP99Milliseconds: percentile(durations, 0.99).rounded(), allOnlineAfterPairingSeconds: rounded(allOnline),
            settleSeconds: rounded(settleSeconds), events: state.withLock { $0.events },
            faultsInjected: snapshot.faultsInjected, liveFaultsByKind: faults.live,
            removedDevices: record.removed.count, replacedDevices: faults.replaced, fleetEvents: record.fleetEvents,
            connectionsAccepted: snapshot.connectionsAccepted, logins: snapshot.logins, violations: snapshot.violationCount,
            gateways: gateways, invariants: checks
        )
        printReport(report)
        return report
    }

    /// Stops every gateway (SIGTERM, then SIGKILL), the simulator and a throwaway cluster. Idempotent.
    func cleanup() async {
        let running = state.withLock { state -> Running in
            defer {
                state.gateways = []
                state.simulator = nil
                state.cluster = nil
                state.pool = nil
                state.threadPool = nil
            }
            return state
        }
        for gateway in running.gateways where !gateway.process.hasExited {
            await gateway.terminate(grace: .seconds(10))
        }
        await running.simulator?.shutdown()
        await running.pool?.close()
        try? await running.threadPool?.shutdownGracefully()
        await running.cluster?.destroy()
    }

    // MARK: Pairing

    /// Pairs `options.devices` devices through POST /pair and the simulator's phone, one pairing at a
    /// time per tenant and up to 16 tenants at once.
    private func pairAll(tenants: [(GatewayClient.Tenant, String)], fleet: Fleet, simulator: Simulator) async throws -> [PairedDevice] {
        let perTenant = (0..<tenants.count).map { index in options.devices / tenants.count + (index < options.devices % tenants.count ? 1 : 0) }
        return try await withThrowingTaskGroup(of: [PairedDevice].self) { group in
            var next = 0
            var results: [PairedDevice] = []
            func add() {
                let (tenant, phone) = tenants[next]
                let count = perTenant[next]
                group.addTask { try await self.pair(count, tenant: tenant, phone: phone, fleet: fleet, simulator: simulator) }
                next += 1
            }
            while next < min(16, tenants.count) { add() }
            while let finished = try await group.next() {
                results += finished
                if next < tenants.count { add() }
            }
            return results
        }
    }

    private func pair(_ count: Int, tenant: GatewayClient.Tenant, phone: String, fleet: Fleet, simulator: Simulator) async throws -> [PairedDevice] {
        var paired: [PairedDevice] = []
        var failures = 0
        while paired.count < count {
            do {
                guard let device = try await fleet.client().pairByQR(tenant, phone: phone, simulator: simulator, name: "device \(paired.count)") else {
                    // The previous pairing's end is not visible yet (409), or the bucket is empty (429).
                    try await Task.sleep(for: .milliseconds(100))
                    continue
                }
                paired.append(device)
            } catch {
                failures += 1
                if failures > 5 { throw FleetHarnessError("pairing for \(tenant.host) keeps failing: \(error)") }
                say("pairing for \(tenant.host) failed (\(error)); again")
                try await Task.sleep(for: .seconds(1))
            }
        }
        return paired
    }

    // MARK: Faults

    private struct FaultFigures {
        var live: [String: Int] = [:]
        var replaced = 0
    }

    /// The seeded schedule over `options.minutes`: connection faults at random rates throughout;
    /// live faults on random devices (503, 515, slow keepalive) spread over the window; a few
    /// `replaced` conflicts (then a soft reset through the API) and `device_removed`; gateway A
    /// killed (SIGKILL) and restarted twice; a second instance B started and stopped; PostgreSQL
    /// restarted once.
    private func faultPhase(
        fleet: Fleet, cluster: PostgresCluster, simulator: Simulator, pool: PostgresPool,
        record: inout FleetInvariants.RunRecord, tenantOf: [UUID: GatewayClient.Tenant], random: inout SplitMix64
    ) async throws -> FaultFigures {
        let window = options.minutes * 60
        try simulator.faults.setSchedule(FaultSchedule(rates: [.dropHandshake: 0.02, .refuseConnection: 0.01], seed: options.seed))
        event("connection faults scheduled: drop_handshake 2 %, refuse_connection 1 % of connections")

        enum Step { case live(FaultKind), replace, remove, startB, killA, restartPostgres, stopB }
        var steps: [(at: Double, step: Step)] = [
            (0.10, .startB), (0.20, .killA), (0.45, .restartPostgres), (0.60, .killA), (0.80, .stopB),
        ]
        let plannedRemovals = max(1, options.devices / 100), replacements = max(1, options.devices / 100)
        for _ in 0..<replacements { steps.append((Double.random(in: 0.05...0.70, using: &random), .replace)) }
        for _ in 0..<plannedRemovals { steps.append((Double.random(in: 0.05...0.70, using: &random), .remove)) }
        var removals = 0
        let liveFaults = max(6, options.devices / 4)
        let kinds: [FaultKind] = [.streamError503, .streamError515, .streamError503, .streamError515, .slowKeepalive]
        for index in 0..<liveFaults {
            // Slow keepalive only early: a connection loses its keepalive 3 minutes later, after the checks otherwise.
            let kind = kinds[Int.random(in: 0..<kinds.count, using: &random)]
            let at = kind == .slowKeepalive ? Double.random(in: 0...0.3, using: &random) : Double(index) / Double(liveFaults) * 0.9
            steps.append((at, .live(kind)))
        }
        steps.sort { $0.at < $1.at }

        var figures = FaultFigures()
        var aGeneration = 1
        let windowStart = ContinuousClock.now
        for (at, step) in steps {
            let due = windowStart + .milliseconds(Int64(at * window * 1000))
            if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
            try Task.checkCancellation()
            switch step {
            case .live(let kind):
                guard let victim = try await pickOnline(record.kept, simulator: simulator, random: &random) else { continue }
                if try simulator.injectNow(kind, device: victim.jid, delay: kind == .slowKeepalive ? nil : .zero) {
                    figures.live[kind.rawValue, default: 0] += 1
                }
            case .replace:
                guard let victim = try await pickOnline(record.kept, simulator: simulator, random: &random),
                      try simulator.injectNow(.conflictReplaced, device: victim.jid, delay: .zero) else { continue }
                event("conflict replaced on \(victim.jid)")
                let tenant = tenantOf[victim.deviceID]!
                // A replaced device waits for its operator: the run is that operator, once it is suspended.
                let suspended = (try? await waitUntil("\(victim.jid) suspended", timeout: .seconds(30)) {
                    try await self.state(of: victim.deviceID, pool: pool) == "suspended"
                }) != nil
                if suspended {
                    figures.replaced += 1
                    _ = try? await fleet.client().reset(tenant, deviceID: victim.deviceID.uuidString.lowercased(), mode: "soft")
                    record.resets[victim.deviceID, default: 0] += 1
                    event("soft reset of \(victim.jid) through POST /reset")
                } else {
                    event("\(victim.jid) was not suspended within 30 s: the simulator never applied the conflict to its connection; no reset")
                }
            case .remove:
                // Alternately the server's device_removed (the device stays linked on the phone) and
                // the phone unlinking it (device_removed now, 401 on every later login).
                let kind: FaultKind = removals.isMultiple(of: 2) ? .deviceRemoved : .unlink
                guard let victim = try await pickOnline(record.kept, simulator: simulator, random: &random),
                      try simulator.injectNow(kind, device: victim.jid, delay: .zero) else { continue }
                let loginsAtRemoval = simulator.stats.logins(of: victim.jid)
                event("\(kind.rawValue) on \(victim.jid)")
                // The next step (a SIGKILL, say) waits until the gateway recorded the logout: a gateway
                // killed before it read the stream error rightly logs in again where the phone kept the device.
                let loggedOut = (try? await waitUntil("\(victim.jid) logged out", timeout: .seconds(30)) {
                    try await self.state(of: victim.deviceID, pool: pool) == "logged_out"
                }) != nil
                if !loggedOut, simulator.stats.isOnline(victim.jid) {
                    event("\(victim.jid) is still online: its connection ended before the fault reached it; it stays in the fleet")
                    continue
                }
                removals += 1
                record.kept.removeAll { $0.deviceID == victim.deviceID }
                record.removed.append(.init(deviceID: victim.deviceID, jid: victim.jid, loginsAtRemoval: loginsAtRemoval))
                if loggedOut { event("\(victim.jid) is logged out") }
            case .startB:
                try await fleet.start("b1")
                record.fleetEvents += 1
                event("gateway b1 started on the same database (pid \(fleet.gateway("b1")?.pid ?? 0))")
            case .killA:
                let old = "a\(aGeneration)"
                await fleet.gateway(old)?.kill()
                aGeneration += 1
                event("gateway \(old) killed with SIGKILL")
                try await fleet.start("a\(aGeneration)")
                record.fleetEvents += 1
                event("gateway a\(aGeneration) started (pid \(fleet.gateway("a\(aGeneration)")?.pid ?? 0))")
            case .restartPostgres:
                guard cluster.canRestart else {
                    event("PostgreSQL restart skipped: the database was given by URL without --pg-data")
                    continue
                }
                try await cluster.restart()
                record.fleetEvents += 1
                event("PostgreSQL restarted (fast shutdown: every connection broken)")
            case .stopB:
                let status = await fleet.gateway("b1")?.terminate() ?? -1
                record.fleetEvents += 1
                event("gateway b1 stopped with SIGTERM (exit \(status)); its devices move to a\(aGeneration)")
            }
        }
        let end = windowStart + .milliseconds(Int64(window * 1000))
        if end > ContinuousClock.now { try await Task.sleep(until: end, clock: .continuous) }
        return figures
    }

    /// A random device that is logged in now; waits up to 30 s for one (after a gateway was
    /// killed its devices are offline until their leases expire and another instance claims them).
    private func pickOnline(_ devices: [FleetInvariants.KeptDevice], simulator: Simulator, random: inout SplitMix64) async throws -> FleetInvariants.KeptDevice? {
        guard !devices.isEmpty else { return nil }
        let deadline = ContinuousClock.now + .seconds(30)
        repeat {
            let start = Int.random(in: 0..<devices.count, using: &random)
            for offset in 0..<devices.count {
                let candidate = devices[(start + offset) % devices.count]
                if simulator.stats.isOnline(candidate.jid) { return candidate }
            }
            try await Task.sleep(for: .milliseconds(250))
        } while ContinuousClock.now < deadline
        return nil
    }

    // MARK: Waiting and reading

    private func onlineCount(_ pool: PostgresPool) async throws -> Int {
        Int(try await pool.query("SELECT count(*)::bigint FROM devices WHERE state = 'online'")[0].decode(0, as: Int64.self))
    }

    private func state(of device: UUID, pool: PostgresPool) async throws -> String {
        try await pool.query("SELECT state FROM devices WHERE id = $1", [device])[0].decode(0)
    }

    private func settled(pool: PostgresPool, simulator: Simulator, record: FleetInvariants.RunRecord) async throws -> Bool {
        let rows = try await pool.query("SELECT id, state FROM devices")
        var states: [UUID: String] = [:]
        for row in rows { states[try row.decode(0)] = try row.decode(1) }
        let open = try await pool.query("SELECT count(*)::bigint FROM pairing_sessions WHERE ended_at IS NULL")[0].decode(0, as: Int64.self)
        return open == 0
            && record.kept.allSatisfy { states[$0.deviceID] == "online" && simulator.stats.isOnline($0.jid) }
            && record.removed.allSatisfy { states[$0.deviceID] == "logged_out" }
    }

    /// Polls `condition` every 250 ms until it holds; throws after `timeout`.
    private func waitUntil(_ what: String, timeout: Duration, _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if (try? await condition()) == true { return }
            guard ContinuousClock.now < deadline else { throw FleetHarnessError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    // MARK: Printing

    private func printReport(_ report: ChaosReport) {
        var lines = ["", "figures"]
        lines.append("  devices \(report.devices) for \(report.tenants) tenants; pairing \(report.pairingSeconds) s (p50 \(Int(report.pairingP50Milliseconds)) ms, p99 \(Int(report.pairingP99Milliseconds)) ms)")
        lines.append("  fault phase \(HumanDuration.format(.seconds(report.minutes * 60))), seed \(report.seed): \(report.fleetEvents) fleet events, \(report.replacedDevices) replaced, \(report.removedDevices) removed")
        lines.append("  live faults: " + report.liveFaultsByKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("  faults applied by the simulator: " + report.faultsInjected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("  connections accepted \(report.connectionsAccepted), logins \(report.logins), protocol violations \(report.violations); settled in \(report.settleSeconds) s")
        for gateway in report.gateways {
            lines.append("  gateway \(gateway.instance): RSS \(gateway.residentMiB.map { "\($0) MiB" } ?? "–"), CPU \(gateway.cpuSeconds.map { "\($0) s" } ?? "–")")
        }
        lines.append("")
        lines.append("invariants")
        lines += report.invariants.map { "  " + $0.line }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// The gateways of the run by instance id, and a client for any live one.
private final class Fleet: Sendable {
    private let configuration: GatewayProcess.Configuration
    private let workDirectory: String
    private let onStart: @Sendable (GatewayProcess) -> Void
    private let gateways = Mutex<[String: GatewayProcess]>([:])

    init(configuration: GatewayProcess.Configuration, workDirectory: String, onStart: @escaping @Sendable (GatewayProcess) -> Void) {
        self.configuration = configuration
        self.workDirectory = workDirectory
        self.onStart = onStart
    }

    func start(_ instance: String) async throws {
        let gateway = try await GatewayProcess.start(instanceID: instance, configuration: configuration, workDirectory: workDirectory)
        onStart(gateway)
        gateways.withLock { $0[instance] = gateway }
    }

    func gateway(_ instance: String) -> GatewayProcess? { gateways.withLock { $0[instance] } }

    var running: [GatewayProcess] {
        gateways.withLock { $0.values.filter { !$0.process.hasExited }.sorted { $0.instanceID < $1.instanceID } }
    }

    /// A client of a running gateway (the first by instance id).
    func client() throws -> GatewayClient {
        guard let gateway = running.first else { throw FleetHarnessError("no gateway is running") }
        return GatewayClient(baseURL: gateway.baseURL, adminToken: configuration.adminToken)
    }
}

/// A seeded generator: the same seed gives the same schedule.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
}

private func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }

extension Duration {
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
