@testable import DevicePool
import Testing

/// The pace of rebalancing: a per-minute budget and a cap on devices closing at once, on the
/// time the caller reads from its clock.
@Suite("Rebalancing: the handover budget")
struct HandoverBudgetTests {
    @Test func startsWithTenSecondsOfBudgetAndRefillsPerMinute() {
        var budget = HandoverBudget(perMinute: 600, maxFraction: 1)
        let t0 = Duration.seconds(100)
        #expect(budget.take(1000, owned: 1000, closing: 0, at: t0) == 100)
        #expect(budget.take(1000, owned: 1000, closing: 0, at: t0) == 0)
        // 600 a minute is 10 a second.
        #expect(budget.take(1000, owned: 1000, closing: 0, at: t0 + .seconds(1)) == 10)
        #expect(budget.take(1000, owned: 1000, closing: 0, at: t0 + .milliseconds(1500)) == 5)
        // A long pause refills to the bucket's size, never more.
        #expect(budget.take(1000, owned: 1000, closing: 0, at: t0 + .seconds(3600)) == 100)
    }

    @Test func neverMoreClosingAtOnceThanTheFraction() {
        var budget = HandoverBudget(perMinute: 60_000, maxFraction: 0.1)
        #expect(budget.take(500, owned: 1000, closing: 0, at: .zero) == 100)
        // 100 still closing: nothing more until they are gone.
        #expect(budget.take(500, owned: 900, closing: 100, at: .seconds(1)) == 0)
        #expect(budget.take(500, owned: 900, closing: 40, at: .seconds(2)) == 50)
        // An instance with few devices still moves one at a time.
        #expect(budget.take(5, owned: 3, closing: 0, at: .seconds(3)) == 1)
    }

    @Test func takesOnlyWhatIsWantedAndAZeroBudgetMovesNothing() {
        var budget = HandoverBudget(perMinute: 60, maxFraction: 1)
        #expect(budget.take(3, owned: 100, closing: 0, at: .zero) == 3)
        #expect(budget.take(100, owned: 100, closing: 0, at: .zero) == 7)
        var off = HandoverBudget(perMinute: 0, maxFraction: 1)
        #expect(off.take(10, owned: 100, closing: 0, at: .zero) == 0)
        #expect(off.take(10, owned: 100, closing: 0, at: .seconds(600)) == 0)
    }
}
