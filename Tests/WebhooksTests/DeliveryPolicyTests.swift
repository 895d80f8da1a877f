import Foundation
import PairgateTestSupport
import Testing
import Webhooks
import WAWire

/// The retry policy, driven by an injected clock and random source.
@Suite struct DeliveryPolicyTests {
    let policy = DeliveryPolicy()
    let start = Date(timeIntervalSince1970: 1_777_636_800)

    private func decide(_ result: DeliveryAttempt.Result, attempt: Int = 1, at offset: TimeInterval = 0, seed: UInt64 = 1) -> DeliveryPolicy.Decision {
        var random = SeededRandom(seed: seed)
        return policy.decide(result, attempt: attempt, firstAttemptAt: start, now: start.addingTimeInterval(offset), random: &random)
    }

    private func retryDelay(_ decision: DeliveryPolicy.Decision, after offset: TimeInterval = 0) -> TimeInterval? {
        guard case .retry(let at) = decision else { return nil }
        return at.timeIntervalSince(start.addingTimeInterval(offset))
    }

    @Test(arguments: [200, 201, 202, 204, 299])
    func twoHundredsAreDelivered(status: Int) {
        #expect(decide(.response(status: status, retryAfter: nil)) == .delivered)
    }

    @Test func goneDisablesTheEndpoint() {
        #expect(decide(.response(status: 410, retryAfter: nil)) == .disableEndpoint)
        #expect(decide(.response(status: 410, retryAfter: .seconds(5)), attempt: 9, at: 90_000) == .disableEndpoint)
    }

    @Test(arguments: [
        DeliveryAttempt.Result.response(status: 500, retryAfter: nil), .response(status: 503, retryAfter: nil), .response(status: 404, retryAfter: nil),
        .response(status: 429, retryAfter: nil), .response(status: 301, retryAfter: nil), .response(status: 400, retryAfter: nil),
        .timeout, .networkError(detail: "connect: connection refused"),
        .refused(WebhookURLError(.privateAddress, "loopback", category: .loopback)),
    ])
    func everyOtherResultIsRetriedWithinTheBackoffBound(result: DeliveryAttempt.Result) throws {
        for attempt in 1...12 {
            for seed in 1...20 {
                let delay = try #require(retryDelay(decide(result, attempt: attempt, seed: UInt64(seed))))
                #expect(delay >= 0)
                #expect(delay <= Double(policy.upperBound(attempt: attempt).components.seconds))
            }
        }
    }

    @Test func backoffDoublesFromTenSecondsToTheOneHourCap() {
        let bounds = (1...12).map { policy.upperBound(attempt: $0) }
        #expect(bounds == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600].map { Duration.seconds($0) })
        #expect(policy.upperBound(attempt: 1_000) == .seconds(3600))
        #expect(policy.upperBound(attempt: 0) == .seconds(10))
    }

    @Test func jitterSpreadsRetriesOverTheWholeBound() {
        var random = SeededRandom(seed: 5)
        let delays = (0..<2000).map { _ in policy.backoffDelay(attempt: 10, random: &random) }
        let seconds = delays.map { Double($0.components.seconds) }
        #expect(seconds.min() ?? 3600 < 200)
        #expect(seconds.max() ?? 0 > 3400)
        let mean = seconds.reduce(0, +) / Double(seconds.count)
        #expect(abs(mean - 1800) < 150)
    }

    @Test func retryAfterSecondsIsHonouredAndCapped() throws {
        let short = try #require(retryDelay(decide(.response(status: 503, retryAfter: .seconds(120)), attempt: 1)))
        #expect(short == 120)
        let capped = try #require(retryDelay(decide(.response(status: 429, retryAfter: .seconds(86_400)), attempt: 1)))
        #expect(capped == 3600)
        // A Retry-After shorter than the backoff does not make us retry sooner.
        for seed in 1...20 {
            var random = SeededRandom(seed: UInt64(seed))
            let backoff = policy.backoffDelay(attempt: 8, random: &random)
            let decision = decide(.response(status: 503, retryAfter: .seconds(1)), attempt: 8, seed: UInt64(seed))
            let delay = try #require(retryDelay(decision))
            #expect(abs(delay - max(1, backoff.inSeconds)) < 0.001)
        }
    }

    @Test func retryAfterDateIsMeasuredFromTheInjectedClock() throws {
        let later = start.addingTimeInterval(100 + 300)
        let delay = try #require(retryDelay(decide(.response(status: 503, retryAfter: .date(later)), attempt: 1, at: 100), after: 100))
        #expect(delay == 300)
        let past = try #require(retryDelay(decide(.response(status: 503, retryAfter: .date(start)), attempt: 1, at: 100), after: 100))
        #expect(past <= 10)
    }

    @Test func theLastAttemptIsAtTheEndOfTheWindowAndItsFailureFails() throws {
        let nearEnd = 86_400.0 - 5
        let decision = decide(.response(status: 500, retryAfter: .seconds(3600)), attempt: 30, at: nearEnd)
        #expect(decision == .retry(at: start.addingTimeInterval(86_400)))
        #expect(decide(.response(status: 500, retryAfter: nil), attempt: 31, at: 86_400) == .failed)
        #expect(decide(.timeout, attempt: 31, at: 90_000) == .failed)
        #expect(decide(.response(status: 200, retryAfter: nil), attempt: 31, at: 90_000) == .delivered)
    }

    /// A receiver that always fails: attempts follow the schedule and the delivery fails after
    /// 24 h, at the window's end, after a bounded number of attempts.
    @Test func aFailingReceiverIsRetriedForTwentyFourHoursThenFails() throws {
        var random = SeededRandom(seed: 99)
        var now = start
        var attempts = 0
        var gaps: [TimeInterval] = []
        while true {
            attempts += 1
            let decision = policy.decide(.response(status: 503, retryAfter: nil), attempt: attempts, firstAttemptAt: start, now: now, random: &random)
            guard case .retry(let next) = decision else {
                #expect(decision == .failed)
                break
            }
            #expect(next >= now)
            gaps.append(next.timeIntervalSince(now))
            now = next
        }
        #expect(now == start.addingTimeInterval(86_400))
        #expect(gaps.allSatisfy { $0 <= 3600 })
        #expect((20...200).contains(attempts), "\(attempts) attempts")
    }

    @Test func anEndpointFailingForTwentyFourHoursIsDisabled() {
        #expect(!policy.shouldDisable(failingSince: start, now: start.addingTimeInterval(86_399)))
        #expect(policy.shouldDisable(failingSince: start, now: start.addingTimeInterval(86_400)))
    }

    @Test func theScheduleIsConfigurable() throws {
        var custom = DeliveryPolicy()
        custom.base = .seconds(1)
        custom.cap = .seconds(8)
        custom.retryWindow = .seconds(60)
        custom.retryAfterCap = .seconds(5)
        custom.disableAfter = .seconds(600)
        #expect((1...6).map { custom.upperBound(attempt: $0) } == [1, 2, 4, 8, 8, 8].map { Duration.seconds($0) })
        var random = SeededRandom(seed: 1)
        let decision = custom.decide(.response(status: 503, retryAfter: .seconds(30)), attempt: 1, firstAttemptAt: start, now: start, random: &random)
        #expect(decision == .retry(at: start.addingTimeInterval(5)))
        #expect(custom.decide(.timeout, attempt: 9, firstAttemptAt: start, now: start.addingTimeInterval(60), random: &random) == .failed)
        #expect(custom.shouldDisable(failingSince: start, now: start.addingTimeInterval(600)))
    }
}

extension Duration {
    var inSeconds: TimeInterval { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
