import Foundation
import WAWire

extension ChaosReport {
    /// The figures, then one PASS or FAIL line per invariant, as the run prints them.
    public var lines: [String] {
        var lines = ["figures"]
        lines.append("  devices \(devices) for \(tenants) tenants; pairing \(pairingSeconds) s (p50 \(Int(pairingP50Milliseconds)) ms, p99 \(Int(pairingP99Milliseconds)) ms)")
        lines.append("  fault phase \(HumanDuration.format(.seconds(minutes * 60))), seed \(seed): \(fleetEvents) fleet events, \(replacedDevices) replaced, \(removedDevices) removed")
        lines.append("  live faults: " + liveFaultsByKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("  faults applied by the simulator: " + faultsInjected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("  connections accepted \(connectionsAccepted), logins \(logins), protocol violations \(violations); settled in \(settleSeconds) s")
        if let webhooks {
            lines.append("  webhooks: \(webhooks.events) events, \(webhooks.requests) requests (\(webhooks.accepted) accepted); receiver moods: "
                         + webhooks.moods.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if let partition {
            lines.append("  partition: \(partition.instance) cut off from PostgreSQL for \(partition.seconds) s holding \(partition.held) devices; \(partition.takenOver) taken over by another instance")
        }
        if let flood {
            lines.append(String(format: "  flood: %d unauthenticated requests in %.1f s: ", flood.requests, flood.seconds)
                + flood.byStatus.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        }
        if let messages {
            lines.append("  messages: \(messages.sent) sent (\(messages.sendFailures) refused), \(messages.copies) copies, \(messages.stored) inbox rows; "
                         + "stanzas offered \(messages.offered), answered \(messages.acked), redelivered \(messages.redelivered), retried \(messages.retried), "
                         + "ack-deadline closures \(messages.ackDeadlineClosures)")
        }
        if let sends {
            lines.append("  sends: \(sends.requests) POST /messages, \(sends.accepted) accepted, refused "
                         + (sends.refused.isEmpty ? "none" : sends.refused.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
                         + ", \(sends.unanswered) unanswered (\(sends.lostAnswers) answers lost and asked again); statuses "
                         + sends.statuses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                         + "; \(sends.attempts) attempts, \(sends.arrivals) copies read (\(sends.redelivered) an id again), \(sends.relayed) relayed to siblings")
        }
        for gateway in gateways {
            lines.append("  gateway \(gateway.instance): RSS \(gateway.residentMiB.map { "\($0) MiB" } ?? "–"), CPU \(gateway.cpuSeconds.map { "\($0) s" } ?? "–")")
        }
        lines.append("")
        lines.append("invariants")
        lines += invariants.map { "  " + $0.line }
        return lines
    }
}
