@testable import DevicePool
import Foundation
import Testing

/// The per-device send rate: a burst, then one message per interval; `rate-overlimit` slows it.
@Suite struct SendPacerTests {
    let start = Date(timeIntervalSince1970: 1_760_000_000)

    @Test func aBurstGoesAtOnceThenMessagesWaitForTheRate() {
        var pacer = SendPacer(perMinute: 30, burst: 3)
        #expect((0..<3).map { _ in pacer.take(now: start) } == [nil, nil, nil])
        // 30 a minute: one every 2 s.
        #expect(pacer.take(now: start) == 2)
        #expect(pacer.take(now: start.addingTimeInterval(1)) == 1)
        #expect(pacer.take(now: start.addingTimeInterval(2)) == nil)
        // An idle minute refills the burst, no more.
        let later = start.addingTimeInterval(60)
        #expect((0..<4).map { _ in pacer.take(now: later) == nil } == [true, true, true, false])
    }

    @Test func overLimitHalvesTheRateForAWhileAndAgainWhileSlowed() {
        var pacer = SendPacer(perMinute: 60, burst: 1)
        #expect(pacer.overLimit(now: start) == 2)
        #expect(pacer.take(now: start.addingTimeInterval(2)) == nil)
        #expect(pacer.overLimit(now: start.addingTimeInterval(3)) == 4)
        // After the penalty the configured rate is back.
        let after = start.addingTimeInterval(3 + SendPacer.penaltyDuration + 1)
        #expect(pacer.take(now: after) == nil)
        #expect(pacer.take(now: after) == 1)
    }

    @Test func withoutARateNothingWaitsButOverLimitStillBacksOff() {
        var pacer = SendPacer(perMinute: nil, burst: 1)
        #expect((0..<100).allSatisfy { _ in pacer.take(now: start) == nil })
        #expect(pacer.overLimit(now: start) == 60)
    }
}
