import Foundation

/// The figures and verdicts of the scale-out scenario (`pairgate chaos --scale-out`).
public struct ScaleOutReport: Codable, Sendable {
    /// One step of the scenario: how long the fleet took to reach its spread, and the spread.
    public struct Phase: Codable, Sendable {
        public var name: String
        public var seconds: Double
        public var held: [String: Int]
    }

    public var devices: Int
    public var tenants: Int
    public var handoversPerMinute: Int
    public var pairingSeconds: Double
    public var phases: [Phase]
    public var moves: Int
    public var offlineP50Milliseconds: Double
    public var offlineP99Milliseconds: Double
    public var offlineMaxMilliseconds: Double
    public var logins: Int
    public var invariants: [FleetInvariants.Check]

    /// The invariants that do not hold; the run failed unless this is empty.
    public var failedInvariants: [FleetInvariants.Check] {
        invariants.filter { !$0.passed }
    }

    /// The figures, then one PASS or FAIL line per invariant.
    public var lines: [String] {
        var lines = ["figures"]
        lines.append("  devices \(devices) for \(tenants) tenants, paired in \(pairingSeconds) s; rebalancing at \(handoversPerMinute) handovers a minute")
        for phase in phases {
            let held = phase.held.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            lines.append("  \(phase.name): \(phase.seconds) s → \(held)")
        }
        lines.append(String(format: "  %d moves, offline p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d logins in all",
                            moves, offlineP50Milliseconds, offlineP99Milliseconds, offlineMaxMilliseconds, logins))
        lines.append("")
        lines.append("invariants")
        lines += invariants.map { "  " + $0.line }
        return lines
    }
}
