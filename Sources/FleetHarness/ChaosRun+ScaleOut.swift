import Foundation
import PostgresClient
import Synchronization
import WASim
import WAWire

/// The scale-out scenario (`pairgate chaos --scale-out`, docs/chaos.md): one gateway pairs every
/// device, two more join and the fleet rebalances, then one of the three is drained with
/// `pairgate drain`. No faults: what is proven is that the spread ends fair, that no device ever
/// has two connections, and that each move costs its device one short reconnect.
extension ChaosRun {
    public func executeScaleOut() async throws -> ScaleOutReport {
        var random = SeededRandom(seed: options.seed)
        say("pairgate chaos --scale-out: \(options.devices) devices, \(options.handoversPerMinute) handovers a minute, work folder \(workDirectory)")
        let (cluster, pool) = try await startDatabase()
        let (simulator, endpoints) = try await startSimulator()
        var configuration = gatewayConfiguration(cluster: cluster, simulator: simulator, endpoints: endpoints, random: &random)
        configuration.extraEnvironment["PAIRGATE_POOL_HANDOVERS_PER_MINUTE"] = String(options.handoversPerMinute)
        let fleet = GatewayFleet(configuration: configuration, workDirectory: workDirectory) { [self] gateway in
            state.withLock { $0.gateways.append(gateway) }
        }
        try await fleet.start("a1")
        event("gateway a1 started")

        let tenantCount = max(1, (options.devices + 3) / 4)
        var tenants: [(GatewayClient.Tenant, String)] = []
        for index in 0..<tenantCount {
            tenants.append((try await fleet.client().createTenant(name: "Scale \(index)", host: "t\(index).scale.test"), "1555\(3_000_000 + index)"))
        }
        let pairingStart = ContinuousClock.now
        let paired = try await pairAll(tenants: tenants, fleet: fleet, simulator: simulator)
        let pairingSeconds = (ContinuousClock.now - pairingStart).seconds
        try await waitUntil("every device online on a1", timeout: .seconds(180)) {
            try await self.held(pool)["a1"] == paired.count && paired.allSatisfy { simulator.stats.isOnline($0.jid) }
        }
        event(String(format: "%d devices paired and online on a1 in %.1f s", paired.count, pairingSeconds))

        // Two more instances: the fleet rebalances at its pace.
        let since = try await pool.query("SELECT now()")[0].decode(0, as: Date.self)
        var phases: [ScaleOutReport.Phase] = []
        let moving = Double(paired.count) * 2 / 3
        let scaleOutLimit = Duration.seconds(120 + moving / Double(max(options.handoversPerMinute, 1)) * 60 * 1.5)
        var phaseStart = ContinuousClock.now
        try await fleet.start("b1")
        try await fleet.start("c1")
        event("gateways b1 and c1 started: a1 holds every device, each instance's fair share is a third")
        let three = ["a1", "b1", "c1"]
        try? await waitUntil("the spread over three", timeout: scaleOutLimit) {
            let held = try await self.held(pool)
            return FleetInvariants.spread("", held: held, instances: three, total: paired.count, tolerance: 0.05).passed
                && held.values.reduce(0, +) == paired.count
        }
        let afterScaleOut = try await held(pool)
        phases.append(.init(name: "a1 → a1, b1, c1", seconds: Self.tenths((ContinuousClock.now - phaseStart).seconds), held: afterScaleOut))
        event("spread over three: " + afterScaleOut.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))

        // Drain b1 as an operator would, then the spread over the two left.
        phaseStart = ContinuousClock.now
        let drain = try await SpawnedProcess.run(
            try GatewayProcess.currentExecutable(), ["drain", "b1", "--wait-seconds", "120", "--log-level", "warning"],
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PAIRGATE_") }.merging(["PAIRGATE_DATABASE_URL": cluster.url]) { _, new in new }
        )
        event("pairgate drain b1 exited \(drain.status): " + drain.output.split(separator: "\n").suffix(2).joined(separator: " / "))
        let two = ["a1", "c1"]
        try? await waitUntil("the spread over two", timeout: scaleOutLimit) {
            let held = try await self.held(pool)
            return FleetInvariants.spread("", held: held, instances: two, total: paired.count, tolerance: 0.05).passed
                && held.values.reduce(0, +) == paired.count
        }
        let afterDrain = try await held(pool)
        phases.append(.init(name: "drain b1 → a1, c1", seconds: Self.tenths((ContinuousClock.now - phaseStart).seconds), held: afterDrain))
        event("spread over two: " + afterDrain.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))

        // Checks.
        let moves = try await self.moves(pool, since: since)
        let jidOf: [UUID: String] = Dictionary(uniqueKeysWithValues: paired.map { ($0.deviceID, $0.jid) })
        var movesByJID: [String: Int] = [:]
        for move in moves { if let jid = jidOf[move.deviceID] { movesByJID[jid, default: 0] += 1 } }
        let snapshot = simulator.stats.snapshot(includeDevices: true)
        let logins = Dictionary(uniqueKeysWithValues: (snapshot.devices ?? []).map { ($0.jid, $0.logins) })
        let online = paired.filter { simulator.stats.isOnline($0.jid) }.count
        let checks: [FleetInvariants.Check] = [
            FleetInvariants.spread("Spread within ±10 % of fair after adding two instances", held: afterScaleOut, instances: three, total: paired.count),
            FleetInvariants.spread("Spread within ±10 % of fair after draining one", held: afterDrain, instances: two, total: paired.count),
            .init(name: "One connection per device", passed: snapshot.maxConcurrentPerDevice <= 1 && snapshot.devicesOverOne.isEmpty,
                  detail: "max concurrent per device \(snapshot.maxConcurrentPerDevice), devices over one: \(snapshot.devicesOverOne.count)"),
            .init(name: "Every device online at the end", passed: online == paired.count && afterDrain.values.reduce(0, +) == paired.count,
                  detail: "\(online) of \(paired.count) logged in at the simulator, \(afterDrain.values.reduce(0, +)) online with a live lease"),
            .init(name: "The drain command succeeded", passed: drain.status == 0, detail: "exit status \(drain.status)"),
            FleetInvariants.offline(moves, bound: options.offlineBoundSeconds),
            FleetInvariants.loginsPerMove(logins: logins, movesByJID: movesByJID),
        ]
        let offline = moves.compactMap(\.offlineSeconds).map { $0 * 1000 }
        let summary = LatencySummary(milliseconds: offline)
        let report = ScaleOutReport(
            devices: paired.count, tenants: tenantCount, handoversPerMinute: options.handoversPerMinute,
            pairingSeconds: Self.tenths(pairingSeconds), phases: phases, moves: moves.count,
            offlineP50Milliseconds: summary.p50.rounded(), offlineP99Milliseconds: summary.p99.rounded(),
            offlineMaxMilliseconds: (offline.max() ?? 0).rounded(), logins: snapshot.logins, invariants: checks
        )
        FileHandle.standardOutput.write(Data((([""] + report.lines).joined(separator: "\n") + "\n").utf8))
        return report
    }

    /// Online devices with a live lease, by owner.
    private func held(_ pool: PostgresPool) async throws -> [String: Int] {
        let rows = try await pool.query("""
            SELECT lease_owner, count(*)::bigint FROM devices
            WHERE state = 'online' AND lease_owner IS NOT NULL AND lease_expires_at > now()
            GROUP BY lease_owner
            """)
        var held: [String: Int] = [:]
        for row in rows { held[try row.decode(0, as: String.self)] = Int(try row.decode(1, as: Int64.self)) }
        return held
    }

    /// Every handover since `since`: the old owner's `shutdown` disconnect and the time to the
    /// device's next `online` transition.
    private func moves(_ pool: PostgresPool, since: Date) async throws -> [FleetInvariants.Move] {
        try await pool.query("""
            SELECT d.device_id, d.instance,
                   extract(epoch FROM (SELECT min(t.at) FROM state_transitions t
                                       WHERE t.device_id = d.device_id AND t.to_state = 'online' AND t.at >= d.at) - d.at)::float8
            FROM disconnects d
            WHERE d.category = 'shutdown' AND d.at >= $1
            """, [since]).map {
            FleetInvariants.Move(deviceID: try $0.decode(0), from: try $0.decode(1), offlineSeconds: try $0.decode(2))
        }
    }
}
