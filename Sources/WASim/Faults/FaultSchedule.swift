/// Faults drawn at random at configured rates, reproducibly: the same seed gives the same faults
/// to the same connection numbers, however connections interleave.
public struct FaultSchedule: Sendable, Hashable {
    /// Probability in 0...1 that a connection gets the fault (at its start, or at its login for login faults).
    public var rates: [FaultKind: Double]
    public var seed: UInt64
    /// Delays by kind (see `ArmedFault.delay`), when not the defaults.
    public var delays: [FaultKind: Duration]

    public init(rates: [FaultKind: Double], seed: UInt64 = 0, delays: [FaultKind: Duration] = [:]) {
        self.rates = rates
        self.seed = seed
        self.delays = delays
    }

    /// Checks every rate is a probability.
    public func validate() throws(SimulatorError) {
        for (kind, rate) in rates where !(0...1).contains(rate) {
            throw SimulatorError(.invalidRate, detail: "rate of \(kind.rawValue) must be between 0 and 1, got \(rate)")
        }
        for (kind, delay) in delays where delay < .zero {
            throw SimulatorError(.invalidDelay, detail: "delay of \(kind.rawValue) must not be negative")
        }
    }

    /// Whether `kind` hits connection number `connection`.
    public func fires(_ kind: FaultKind, connection: UInt64) -> Bool {
        guard let rate = rates[kind], rate > 0 else { return false }
        return Self.uniform(seed: seed, kind: kind, connection: connection) < rate
    }

    /// A value in [0, 1) that depends only on its inputs (SplitMix64 finalisers over the mixed words).
    static func uniform(seed: UInt64, kind: FaultKind, connection: UInt64) -> Double {
        let kindIndex = UInt64(FaultKind.allCases.firstIndex(of: kind) ?? 0)
        var word = mix(seed &+ 0x9E37_79B9_7F4A_7C15 &* (kindIndex &+ 1))
        word = mix(word ^ connection)
        return Double(word >> 11) / Double(UInt64(1) << 53)
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
