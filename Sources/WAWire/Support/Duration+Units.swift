extension Duration {
    /// The duration in seconds, for `Date` arithmetic, SQL intervals and printed figures.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole milliseconds, rounded toward zero.
    public var milliseconds: Int64 {
        components.seconds &* 1000 &+ components.attoseconds / 1_000_000_000_000_000
    }

    /// Whole nanoseconds, rounded toward zero (metrics timers take them); wraps rather than traps
    /// beyond 292 years.
    public var nanoseconds: Int64 {
        components.seconds &* 1_000_000_000 &+ components.attoseconds / 1_000_000_000
    }
}
