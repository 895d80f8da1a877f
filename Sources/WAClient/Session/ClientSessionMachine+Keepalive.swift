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
        /// When the ping now waiting for its answer was sent.
        var sentAt: Date?
    }

    mutating func scheduleKeepalive() -> [Action] {
        let low = configuration.keepalive.minimumInterval.seconds
        let high = configuration.keepalive.maximumInterval.seconds
        let interval = high > low ? Double.random(in: low..<high, using: &random) : low
        return [.schedule(.keepalive, after: .seconds(interval))]
    }

    mutating func sendKeepalive(now: Date) -> [Action] {
        guard var keepalive = connection?.keepalive, !keepalive.isWaiting else {
            return []
        }
        keepalive.isWaiting = true
        keepalive.sentAt = now
        connection?.keepalive = keepalive
        let ping = Node("iq", ["xmlns": "w:p", "type": "get"])
        return sendIQ(ping, for: .keepalive, timeout: configuration.keepalive.responseDeadline)
    }

    /// Any answer is a success, an error answer too: it came over the link, which is all a ping asks
    /// (whatsmeow counts only silence). Silence past the deadline is a failure, and failures for
    /// longer than the maximum end the connection.
    mutating func keepaliveAnswered(_ outcome: IQOutcome, now: Date) -> [Action] {
        guard var keepalive = connection?.keepalive else {
            return []
        }
        let sentAt = keepalive.sentAt
        keepalive.isWaiting = false
        keepalive.sentAt = nil
        if !outcome.isTimeout {
            let wasFailing = keepalive.failures > 0
            keepalive.failures = 0
            keepalive.lastSuccess = now
            connection?.keepalive = keepalive
            let roundTrip = sentAt.map { [Action.keepaliveRoundTrip(.seconds(max(0, now.timeIntervalSince($0))))] } ?? []
            return roundTrip + (wasFailing ? [.emit(.keepaliveRestored)] : []) + scheduleKeepalive()
        }
        keepalive.failures += 1
        connection?.keepalive = keepalive
        let lost = Action.emit(.keepaliveLost(failures: keepalive.failures, lastSuccess: keepalive.lastSuccess))
        let silence = now.timeIntervalSince(keepalive.lastSuccess ?? keepalive.since)
        guard silence <= configuration.keepalive.maximumFailureTime.seconds else {
            return [lost] + terminate(DisconnectReason(
                stage: .keepalive, category: .keepaliveLost,
                detail: "no keepalive answer for \(Int(silence)) s (\(keepalive.failures) pings failed)"
            ))
        }
        return [lost] + scheduleKeepalive()
    }
}
