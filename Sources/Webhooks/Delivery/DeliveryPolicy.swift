import Foundation

/// What to do after an attempt, as a pure function of the attempt, the clock and a random
/// source: the whole retry behaviour of webhooks (docs/webhooks.md). Values come from
/// configuration (`webhooks.retry_*`).
public struct DeliveryPolicy: Sendable, Hashable {
    /// The first retry's upper bound; each further failure doubles it.
    public var base: Duration = .seconds(10)
    /// No single wait is longer than this: a receiver that recovers is tried again within it.
    public var cap: Duration = .seconds(3600)
    /// Retries stop this long after the first attempt; the last attempt is at that moment at the
    /// latest, and its failure fails the delivery.
    public var retryWindow: Duration = .seconds(86_400)
    /// A receiver's `Retry-After` is honoured up to this long.
    public var retryAfterCap: Duration = .seconds(3600)
    /// An endpoint whose attempts all failed for this long is disabled.
    public var disableAfter: Duration = .seconds(86_400)

    public init() {}

    public enum Decision: Sendable, Hashable {
        /// 2xx: done.
        case delivered
        /// Try again at this time.
        case retry(at: Date)
        /// The last attempt failed: mark the delivery failed, visibly.
        case failed
        /// 410 Gone: fail the delivery and disable the endpoint.
        case disableEndpoint
    }

    /// The decision after attempt number `attempt` (1 for the first) of a delivery first tried at
    /// `firstAttemptAt`, ending at `now`.
    public func decide(
        _ result: DeliveryAttempt.Result,
        attempt: Int,
        firstAttemptAt: Date,
        now: Date,
        random: inout some RandomNumberGenerator
    ) -> Decision {
        var retryAfter: RetryAfter?
        switch result {
        case .response(let status, _) where (200...299).contains(status):
            return .delivered
        case .response(410, _):
            return .disableEndpoint
        case .response(_, let header):
            retryAfter = header
        case .timeout, .networkError, .refused:
            // A refused address may be a DNS change in progress; it counts as a failure like any
            // other, and an endpoint that stays refused is disabled after `disableAfter`.
            break
        }
        let deadline = firstAttemptAt.addingTimeInterval(retryWindow.timeInterval)
        guard now < deadline else { return .failed }
        var delay = backoffDelay(attempt: attempt, random: &random)
        if let retryAfter {
            delay = max(delay, min(retryAfter.delay(from: now), retryAfterCap))
        }
        return .retry(at: min(now.addingTimeInterval(delay.timeInterval), deadline))
    }

    /// Full jitter: uniform in [0, min(cap, base · 2^(attempt−1))].
    public func backoffDelay(attempt: Int, random: inout some RandomNumberGenerator) -> Duration {
        upperBound(attempt: attempt) * Double.random(in: 0...1, using: &random)
    }

    /// The longest wait after attempt number `attempt`.
    public func upperBound(attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        return min(base * (1 << exponent), cap)
    }

    /// Whether an endpoint whose attempts have all failed since `failingSince` is to be disabled.
    public func shouldDisable(failingSince: Date, now: Date) -> Bool {
        now.timeIntervalSince(failingSince) >= disableAfter.timeInterval
    }
}
