import Synchronization

/// Spreads starts at `perSecond` with each interval jittered ±50 %: the first at once, each later
/// one an interval after the previous one was due (falling behind is not caught up on). Used to
/// resume devices after a version change at the pace of the boot ramp.
final class RampPacer: Sendable {
    private struct State {
        var due: Duration?
        var random = SystemRandomNumberGenerator()
    }

    private let perSecond: Double
    private let state = Mutex(State())

    init(perSecond: Double) {
        self.perSecond = max(perSecond, 0.001)
    }

    /// How long the next start waits, `now` read from the same clock as every earlier call.
    func delay(at now: Duration) -> Duration {
        state.withLock { state in
            let slot = max(state.due ?? now, now)
            state.due = slot + .seconds(1 / perSecond * Double.random(in: 0.5...1.5, using: &state.random))
            return slot - now
        }
    }
}
