import Foundation
import PostgresClient
import Synchronization
import WASim
import WAWire

extension ChaosRun {
    /// What the fault phase did that the simulator does not count itself.
    struct FaultFigures {
        var live: [String: Int] = [:]
        var replaced = 0
        var partition: ChaosReport.Partition?
    }

    /// Carries out the seeded `ChaosSchedule` over `options.minutes`, with the connection faults
    /// armed throughout; victims are drawn from `random` as each step comes due.
    func faultPhase(
        fleet: GatewayFleet, cluster: PostgresCluster, simulator: Simulator, pool: PostgresPool, aDatabaseURL: String?,
        record: inout FleetInvariants.RunRecord, tenantOf: [UUID: GatewayClient.Tenant], random: inout SeededRandom
    ) async throws -> FaultFigures {
        let window = options.minutes * 60
        try simulator.faults.setSchedule(FaultSchedule(rates: ChaosSchedule.connectionFaultRates, seed: options.seed))
        event("connection faults scheduled: drop_handshake 2 %, refuse_connection 1 % of connections")
        let schedule = ChaosSchedule(devices: options.devices, windowSeconds: window, random: &random)
        var cutOff: (instance: String, devices: [UUID], since: ContinuousClock.Instant)?

        var figures = FaultFigures()
        var removals = 0
        var aGeneration = 1
        let windowStart = ContinuousClock.now
        for entry in schedule.entries {
            let due = windowStart + .milliseconds(Int64(entry.at * window * 1000))
            if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
            try Task.checkCancellation()
            switch entry.step {
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
            case .partitionA:
                guard let proxy = state.withLock({ $0.proxy }) else {
                    event("partition skipped: the database was given by URL, so no proxy stands in front of it")
                    continue
                }
                let instance = "a\(aGeneration)"
                let held: [UUID] = try await pool.query(
                    "SELECT id FROM devices WHERE lease_owner = $1 AND lease_expires_at > now()", [instance]
                ).map { try $0.decode(0) }
                await proxy.blackhole()
                fleet.setPartitioned(instance)
                cutOff = (instance, held, ContinuousClock.now)
                record.fleetEvents += 1
                event("\(instance)'s database traffic blackholed (no reset, no answer) while b1 runs; \(instance) holds \(held.count) devices")
            case .healA:
                guard let proxy = state.withLock({ $0.proxy }), let partition = cutOff else { continue }
                let takenOver: Int64 = try await pool.query("""
                    SELECT count(*)::int8 FROM devices WHERE id = ANY($1) AND lease_owner <> $2 AND lease_expires_at > now()
                    """, [PostgresArray(partition.devices), partition.instance])[0].decode(0)
                let seconds = (ContinuousClock.now - partition.since).seconds
                await proxy.heal()
                fleet.setPartitioned(nil)
                cutOff = nil
                figures.partition = ChaosReport.Partition(
                    instance: partition.instance, seconds: (seconds * 10).rounded() / 10, held: partition.devices.count, takenOver: Int(takenOver)
                )
                event(String(format: "%@'s database traffic healed after %.1f s: %d of its %d devices taken over meanwhile; "
                             + "most logged-in connections of one device so far: %d",
                             partition.instance, seconds, Int(takenOver), partition.devices.count, simulator.stats.snapshot().maxConcurrentPerDevice))
            case .startB:
                try await fleet.start("b1")
                record.fleetEvents += 1
                event("gateway b1 started on the same database (pid \(fleet.gateway("b1")?.pid ?? 0))")
            case .killA:
                let old = "a\(aGeneration)"
                await fleet.gateway(old)?.kill()
                aGeneration += 1
                event("gateway \(old) killed with SIGKILL")
                try await fleet.start("a\(aGeneration)", databaseURL: aDatabaseURL)
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
    private func pickOnline(_ devices: [FleetInvariants.KeptDevice], simulator: Simulator, random: inout SeededRandom) async throws -> FleetInvariants.KeptDevice? {
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
}
