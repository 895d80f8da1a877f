import Foundation

/// How fast one device sends (docs/messaging.md "Pacing"): a token bucket of `burst` messages refilled
/// at `perMinute`, and a slow-down after the server said `rate-overlimit` (the rate halves, down to a
/// floor, for `penaltyDuration`; a second one while slowed halves it again). Nothing is ever dropped:
/// a message that has to wait waits. Pure: the caller gives the time.
struct SendPacer: Sendable {
    /// Messages per minute; nil sends as fast as acks come back (benchmarks, tests).
    let perMinute: Double?
    let burst: Double
    static let penaltyDuration: TimeInterval = 300
    static let minimumPerMinute: Double = 1

    private var tokens: Double
    private var updatedAt: Date?
    private var slowdown: Double = 1
    private var slowedUntil: Date?

    init(perMinute: Int?, burst: Int) {
        self.perMinute = perMinute.map(Double.init)
        self.burst = Double(max(1, burst))
        tokens = Double(max(1, burst))
    }

    private func rate(at now: Date) -> Double? {
        guard let perMinute else { return nil }
        let factor = (slowedUntil.map { now < $0 } ?? false) ? slowdown : 1
        return max(Self.minimumPerMinute, perMinute * factor) / 60
    }

    private mutating func refill(_ now: Date) {
        guard let rate = rate(at: now) else { return }
        if let updatedAt {
            tokens = min(burst, tokens + max(0, now.timeIntervalSince(updatedAt)) * rate)
        }
        updatedAt = now
    }

    /// Nil when a message may go now (and takes its token), else how long to wait first.
    mutating func take(now: Date) -> TimeInterval? {
        guard let rate = rate(at: now) else { return nil }
        refill(now)
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        return (1 - tokens) / rate
    }

    /// The server said `rate-overlimit`: halve the rate for a while and empty the bucket. Returns
    /// how long until the next message may go.
    mutating func overLimit(now: Date) -> TimeInterval {
        slowdown = (slowedUntil.map { now < $0 } ?? false) ? slowdown / 2 : 0.5
        slowedUntil = now.addingTimeInterval(Self.penaltyDuration)
        refill(now)
        tokens = 0
        // Without a configured rate, back off as if sending one a minute.
        return 1 / (rate(at: now) ?? Self.minimumPerMinute / 60)
    }
}
