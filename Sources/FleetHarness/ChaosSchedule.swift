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
        /// Gateway A's database traffic is blackholed (no reset, no answer) while b1 runs.
        case partitionA
        /// A's database traffic flows again.
        case healA
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
    /// When A's database traffic is blackholed, as fractions of the window.
    public var partition: ClosedRange<Double>

    /// How long A is cut off from PostgreSQL: longer than a lease (30 s) and the claim interval
    /// after it (10 s), so that b1 takes A's devices over while A still has their connections.
    public static let partitionSeconds = 45.0

    /// The plan for a fleet of `devices` over a window of `windowSeconds`, drawn from `random`:
    /// the fleet events at fixed times (A's partition lasts `partitionSeconds`, healed by 0.55 at
    /// the latest); 1 % of the devices replaced and 1 % removed (at least one each) at random
    /// times in the first 70 %, never while A is cut off or just after (its writes could not
    /// record them); one live fault per 4 devices (at least 6), stream errors spread evenly over
    /// the first 90 % and slow keepalives only in the first 30 % (a connection gives up on them
    /// only after 3 minutes, after the checks otherwise).
    public init(devices: Int, windowSeconds: Double, random: inout some RandomNumberGenerator) {
        let heal = (min(0.15 + Self.partitionSeconds / max(windowSeconds, 1), 0.55) * 1000).rounded() / 1000
        partition = 0.15...heal
        var entries: [Entry] = [
            Entry(at: 0.10, step: .startB), Entry(at: 0.15, step: .partitionA), Entry(at: heal, step: .healA),
            Entry(at: 0.60, step: .killA), Entry(at: 0.70, step: .restartPostgres), Entry(at: 0.78, step: .killA),
            Entry(at: 0.88, step: .stopB),
        ]
        let quiet = 0.15...(heal + 0.05)
        let removals = max(1, devices / 100), replacements = max(1, devices / 100)
        func conflictTime() -> Double {
            // Uniform over [0.05, 0.70] without the quiet span.
            let open = (0.70 - 0.05) - (quiet.upperBound - quiet.lowerBound)
            let drawn = 0.05 + Double.random(in: 0...open, using: &random)
            return drawn < quiet.lowerBound ? drawn : drawn + (quiet.upperBound - quiet.lowerBound)
        }
        for _ in 0..<replacements { entries.append(Entry(at: conflictTime(), step: .replace)) }
        for _ in 0..<removals { entries.append(Entry(at: conflictTime(), step: .remove)) }
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

    /// Gateway starts and stops, A's partition and PostgreSQL restarts: each lets every device
    /// connect once more.
    public var fleetEvents: Int {
        entries.count { [.startB, .partitionA, .killA, .restartPostgres, .stopB].contains($0.step) }
    }
}
