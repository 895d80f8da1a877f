import WASim

/// The seeded plan of a chaos run's fault phase (docs/chaos.md, "What a run does"): what happens to
/// the fleet and when, as a fraction of the window. The same seed and fleet size give the same plan.
public struct ChaosSchedule: Sendable, Hashable {
    /// One thing the run does to the fleet.
    public enum Step: Sendable, Hashable {
        /// A live fault on a random online device: a stream error (503, 515) or a slow keepalive.
        case live(FaultKind)
        /// `conflict_replaced` on a random online device, then a soft reset through the API.
        case replace
        /// `device_removed` or `unlink` (alternately) on a random online device.
        case remove
        /// A second instance `b1` starts on the same database.
        case startB
        /// Gateway A is killed with SIGKILL and restarted under a new instance id.
        case killA
        /// PostgreSQL restarts (fast shutdown).
        case restartPostgres
        /// `b1` stops with SIGTERM; its devices move to A.
        case stopB
    }

    /// A step and when it is due, as a fraction of the fault window (0 = its start, 1 = its end).
    public struct Entry: Sendable, Hashable {
        public var at: Double
        public var step: Step
    }

    /// Connection faults armed over the whole window, as rates of new connections.
    public static let connectionFaultRates: [FaultKind: Double] = [.dropHandshake: 0.02, .refuseConnection: 0.01]

    /// The steps, soonest first.
    public var entries: [Entry]

    /// The plan for a fleet of `devices`, drawn from `random`: the fleet events at fixed times; 1 %
    /// of the devices replaced and 1 % removed (at least one each) at random times in the first
    /// 70 %; one live fault per 4 devices (at least 6), stream errors spread evenly over the first
    /// 90 % and slow keepalives only in the first 30 % (a connection gives up on them only after 3
    /// minutes, after the checks otherwise).
    public init(devices: Int, random: inout some RandomNumberGenerator) {
        var entries: [Entry] = [
            Entry(at: 0.10, step: .startB), Entry(at: 0.20, step: .killA), Entry(at: 0.45, step: .restartPostgres),
            Entry(at: 0.60, step: .killA), Entry(at: 0.80, step: .stopB),
        ]
        let removals = max(1, devices / 100), replacements = max(1, devices / 100)
        for _ in 0..<replacements { entries.append(Entry(at: Double.random(in: 0.05...0.70, using: &random), step: .replace)) }
        for _ in 0..<removals { entries.append(Entry(at: Double.random(in: 0.05...0.70, using: &random), step: .remove)) }
        let liveFaults = max(6, devices / 4)
        let kinds: [FaultKind] = [.streamError503, .streamError515, .streamError503, .streamError515, .slowKeepalive]
        for index in 0..<liveFaults {
            let kind = kinds[Int.random(in: 0..<kinds.count, using: &random)]
            let at = kind == .slowKeepalive ? Double.random(in: 0...0.3, using: &random) : Double(index) / Double(liveFaults) * 0.9
            entries.append(Entry(at: at, step: .live(kind)))
        }
        entries.sort { $0.at < $1.at }
        self.entries = entries
    }

    /// Gateway starts and stops and PostgreSQL restarts: each lets every device connect once more.
    public var fleetEvents: Int {
        entries.count { [.startB, .killA, .restartPostgres, .stopB].contains($0.step) }
    }
}
