@testable import FleetHarness
import Foundation
import Testing
import WASim
import WAWire

/// The pure parts of `pairgate chaos`: the fault schedule drawn from the seed, and the report that
/// decides the exit status.
@Suite("Chaos run: schedule and report")
struct ChaosScheduleTests {
    private func schedule(devices: Int, seed: UInt64, minutes: Double = 2) -> ChaosSchedule {
        var random = SeededRandom(seed: seed)
        return ChaosSchedule(devices: devices, windowSeconds: minutes * 60, random: &random)
    }

    @Test func theSameSeedGivesTheSameSchedule() {
        #expect(schedule(devices: 200, seed: 42) == schedule(devices: 200, seed: 42))
        #expect(schedule(devices: 200, seed: 42) != schedule(devices: 200, seed: 43))
    }

    @Test func theScheduleHasTheDocumentedSteps() {
        let plan = schedule(devices: 200, seed: 7)
        #expect(plan.entries.map(\.at) == plan.entries.map(\.at).sorted())
        #expect(plan.entries.allSatisfy { (0.0...1.0).contains($0.at) })

        let fleetEvents = plan.entries.filter { [.startB, .partitionA, .healA, .killA, .restartPostgres, .stopB].contains($0.step) }
        // In 2 minutes, A's database traffic is blackholed from 18 s to 63 s: 45 s, longer than a
        // lease (30 s) and the claim interval that follows it, while b1 runs.
        #expect(fleetEvents.map(\.at) == [0.10, 0.15, 0.525, 0.60, 0.70, 0.78, 0.88])
        #expect(fleetEvents.map(\.step) == [.startB, .partitionA, .healA, .killA, .restartPostgres, .killA, .stopB])
        #expect(plan.fleetEvents == 6)
        #expect(plan.partition == 0.15...0.525)

        let conflicts = plan.entries.filter { $0.step == .replace || $0.step == .remove }
        #expect(conflicts.count(where: { $0.step == .replace }) == 2)
        #expect(conflicts.count(where: { $0.step == .remove }) == 2)
        // Never while A is cut off: its writes could not record them.
        #expect(conflicts.allSatisfy { (0.05...0.70).contains($0.at) && !(0.15...0.575).contains($0.at) })

        let live = plan.entries.compactMap { entry -> (Double, FaultKind)? in
            if case .live(let kind) = entry.step { (entry.at, kind) } else { nil }
        }
        #expect(live.count == 50)
        #expect(Set(live.map(\.1)).isSubset(of: [.streamError503, .streamError515, .slowKeepalive]))
        #expect(live.filter { $0.1 == .slowKeepalive }.allSatisfy { $0.0 <= 0.3 })
        #expect(live.filter { $0.1 != .slowKeepalive }.allSatisfy { $0.0 < 0.9 })
    }

    @Test func thePartitionOutlastsALeaseUnlessTheWindowIsTooShort() {
        let long = schedule(devices: 200, seed: 7, minutes: 5)
        #expect(long.partition == 0.15...0.30)
        let short = schedule(devices: 20, seed: 7, minutes: 0.5)
        // Healed before A is killed, however short the window.
        #expect(short.partition == 0.15...0.55)
        #expect(short.entries.filter { $0.step == .replace || $0.step == .remove }.allSatisfy { !(0.15...0.60).contains($0.at) })
    }

    @Test func aSmallFleetStillGetsEveryKindOfStep() {
        let plan = schedule(devices: 3, seed: 1)
        #expect(plan.entries.count(where: { $0.step == .replace }) == 1)
        #expect(plan.entries.count(where: { $0.step == .remove }) == 1)
        #expect(plan.entries.count(where: { if case .live = $0.step { true } else { false } }) == 6)
    }

    private func report(_ invariants: [FleetInvariants.Check]) -> ChaosReport {
        ChaosReport(
            seed: 7, minutes: 0.5, devices: 20, tenants: 5, pairingSeconds: 4.2, pairingP50Milliseconds: 180,
            pairingP99Milliseconds: 950, allOnlineAfterPairingSeconds: 1.5, settleSeconds: 12.3, events: [],
            faultsInjected: ["stream_error_503": 2, "drop_handshake": 1], liveFaultsByKind: ["stream_error_503": 2],
            removedDevices: 1, replacedDevices: 1, fleetEvents: 5, connectionsAccepted: 80, logins: 60, violations: 0,
            gateways: [.init(instance: "a3", residentMiB: 41.5, cpuSeconds: nil)], invariants: invariants
        )
    }

    @Test func theReportFailsOnlyWithAFailedInvariantAndPrintsEveryVerdict() {
        let pass = FleetInvariants.Check(name: "one connection per device", passed: true, detail: "maximum 1")
        let fail = FleetInvariants.Check(name: "no pairing left open", passed: false, detail: "1 open")
        #expect(report([pass]).failedInvariants.isEmpty)
        let failing = report([pass, fail])
        #expect(failing.failedInvariants == [fail])

        let lines = failing.lines
        #expect(lines.first == "figures")
        #expect(lines.contains("  devices 20 for 5 tenants; pairing 4.2 s (p50 180 ms, p99 950 ms)"))
        #expect(lines.contains("  faults applied by the simulator: drop_handshake 1, stream_error_503 2"))
        #expect(lines.contains("  gateway a3: RSS 41.5 MiB, CPU –"))
        #expect(Array(lines.suffix(3)) == ["invariants", "  PASS  one connection per device: maximum 1", "  FAIL  no pairing left open: 1 open"])
    }

    @Test func theReportSurvivesJSON() throws {
        let original = report([FleetInvariants.Check(name: "x", passed: true, detail: "y")])
        let decoded = try JSONDecoder().decode(ChaosReport.self, from: JSONEncoder().encode(original))
        #expect(decoded.lines == original.lines)
    }
}
