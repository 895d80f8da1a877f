import Foundation
import WAWire

extension ClientSessionMachine {
    /// Keepalive bookkeeping (transport.md §7, whatsmeow's keepalive.go).
    struct KeepaliveProgress: Sendable {
        /// When the transport came up: the reference point until the first successful ping.
        var since = Date.distantPast
        var lastSuccess: Date?
        var failures = 0
        var isWaiting = false
    }

    mutating func startKeepalive(now: Date) -> [Action] {
        keepalive = KeepaliveProgress(since: now)
        return scheduleKeepalive()
    }

    private mutating func scheduleKeepalive() -> [Action] {
        let low = configuration.keepalive.minimumInterval.timeInterval
        let high = configuration.keepalive.maximumInterval.timeInterval
        let interval = high > low ? Double.random(in: low..<high, using: &random) : low
        return [.schedule(.keepalive, after: .seconds(interval))]
    }

    mutating func sendKeepalive(now: Date) -> [Action] {
        guard !keepalive.isWaiting else {
            return []
        }
        keepalive.isWaiting = true
        let ping = Node("iq", ["xmlns": "w:p", "type": "get"])
        return sendIQ(ping, for: .keepalive, timeout: configuration.keepalive.responseDeadline)
    }

    /// A result is a success; an error answer or silence past the deadline is a failure, and failures for
    /// longer than the maximum end the connection.
    mutating func keepaliveAnswered(_ outcome: IQOutcome, now: Date) -> [Action] {
        keepalive.isWaiting = false
        if outcome.isResult {
            let wasFailing = keepalive.failures > 0
            keepalive.failures = 0
            keepalive.lastSuccess = now
            return (wasFailing ? [.emit(.keepaliveRestored)] : []) + scheduleKeepalive()
        }
        keepalive.failures += 1
        let lost = Action.emit(.keepaliveLost(failures: keepalive.failures, lastSuccess: keepalive.lastSuccess))
        let silence = now.timeIntervalSince(keepalive.lastSuccess ?? keepalive.since)
        guard silence <= configuration.keepalive.maximumFailureTime.timeInterval else {
            return [lost] + terminate(DisconnectReason(
                stage: .keepalive, category: .keepaliveLost,
                detail: "no keepalive answer for \(Int(silence)) s (\(keepalive.failures) pings failed)"
            ))
        }
        return [lost] + scheduleKeepalive()
    }
}
