/// How many handovers a rebalancing round may start: a token bucket of `perMinute` (refilled
/// continuously, holding at most 10 s of budget, full at start) and, whatever the bucket holds,
/// never more devices closing at once than `maxFraction` of the instance's devices (at least
/// one). Pure: the caller passes the time on its clock.
struct HandoverBudget: Sendable {
    let perMinute: Int
    let maxFraction: Double
    private var tokens: Double
    private var refilledAt: Duration?

    init(perMinute: Int, maxFraction: Double) {
        self.perMinute = max(perMinute, 0)
        self.maxFraction = min(max(maxFraction, 0), 1)
        tokens = Double(max(perMinute, 0)) / 6
    }

    /// The bucket's size: 10 s of budget, at least one handover.
    private var burst: Double {
        max(1, Double(perMinute) / 6)
    }

    /// Takes up to `wanted` handovers at `now` for an instance holding `owned` devices, `closing`
    /// of which are still being handed over; returns how many were granted.
    mutating func take(_ wanted: Int, owned: Int, closing: Int, at now: Duration) -> Int {
        if let refilledAt {
            let elapsed = Double((now - refilledAt).components.seconds) + Double((now - refilledAt).components.attoseconds) / 1e18
            tokens = min(burst, tokens + max(0, elapsed) * Double(perMinute) / 60)
        } else {
            tokens = min(burst, tokens)
        }
        refilledAt = now
        let atOnce = max(1, Int((Double(owned) * maxFraction).rounded(.down))) - closing
        let granted = max(0, min(wanted, Int(tokens.rounded(.down)), atOnce))
        tokens -= Double(granted)
        return granted
    }
}
