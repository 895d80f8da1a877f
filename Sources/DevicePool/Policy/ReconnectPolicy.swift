import Foundation
import WAClient

/// What to do after a connection ends. One table keyed by the classified reason — the whole
/// reconnect behaviour of the gateway is `decide(_:)` (documented in docs/device-lifecycle.md).
public struct ReconnectPolicy: Sendable, Hashable {
    /// The first backoff's upper bound; each further failure doubles it.
    public var base: Duration = .seconds(2)
    /// No backoff is longer than this.
    public var cap: Duration = .seconds(300)
    /// Staying online this long forgives earlier failures (the attempt counter restarts).
    public var resetAfterOnline: Duration = .seconds(60)
    /// Immediate reconnects (515) allowed within `immediateWindow` before they count as failures;
    /// a server that keeps asking for restarts must not make us spin.
    public var immediateLimit = 3
    public var immediateWindow: Duration = .seconds(60)

    public init() {}

    public enum Decision: Sendable, Hashable, CustomStringConvertible {
        /// Reconnect at once (515 restart required).
        case reconnectNow
        /// Wait `delay`, then reconnect; `attempt` is the number of consecutive failures.
        case backoff(delay: Duration, attempt: Int)
        /// Stop reconnecting until the suspension is lifted.
        case suspend(Suspension)
        /// The credentials are dead: wipe them, never reconnect.
        case logOut
        /// This process will not reconnect (shutdown, pairing over, lease lost).
        case stop

        /// The `disconnects.decision` column.
        public var description: String {
            switch self {
            case .reconnectNow: "reconnect_now"
            case .backoff: "backoff"
            case .suspend(let suspension): "suspend_\(suspension.name)"
            case .logOut: "logged_out"
            case .stop: "stop"
            }
        }
    }

    /// The decision for `reason`. `attempt` is the number of consecutive failures before this
    /// one; `webVersion` names the configured version for client_outdated.
    public func decide(
        _ reason: DisconnectReason,
        attempt: Int,
        webVersion: String,
        random: inout some RandomNumberGenerator
    ) -> Decision {
        switch reason.category {
        case .restartRequired:
            return .reconnectNow
        case .clientOutdated:
            return .suspend(.clientOutdated(version: webVersion))
        case .replaced:
            return .suspend(.replaced)
        case .temporaryBan:
            return .suspend(.temporaryBan(until: reason.banExpiresAt))
        case .refused:
            return .suspend(.refused(code: reason.code))
        case .loggedOut:
            return .logOut
        case .shutdown, .pairingTimeout, .pairingFailed:
            return .stop
        case .network, .timeout, .serverError, .keepaliveLost, .protocolViolation, .ackRejected, .certificateRejected, .other:
            return .backoff(delay: backoffDelay(attempt: attempt + 1, random: &random), attempt: attempt + 1)
        }
    }

    /// Full jitter: uniform in [0, min(cap, base · 2^(attempt−1))].
    public func backoffDelay(attempt: Int, random: inout some RandomNumberGenerator) -> Duration {
        upperBound(attempt: attempt) * Double.random(in: 0...1, using: &random)
    }

    /// The largest delay `attempt` may wait; `pairgate chaos` holds every recorded backoff to `cap`.
    public func upperBound(attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let bound = base * (1 << exponent)
        return min(bound, cap)
    }
}
