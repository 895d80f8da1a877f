import CoreMetrics
import Foundation
import Messaging
import Metrics
import WAWire

/// The receive path's metrics, named in one place (docs/api.md lists them; AdminAPI's exposition
/// has their HELP texts).
public struct ReceiveMetrics: Sendable {
    /// Messages received, by `type`: stored ones under the inbox's type, statuses, newsletters and
    /// unavailable messages (acked only) under their own.
    public static let receivedName = "pairgate_messages_received_total"
    /// Messages that did not decrypt or read, by `reason` (a Signal error code, `invalid_padding`, `invalid_protobuf`).
    public static let decryptFailuresName = "pairgate_message_decrypt_failures_total"
    public static let retryReceiptsName = "pairgate_retry_receipts_sent_total"
    /// Redelivered messages recognised as handled: answered with their receipt, not stored again.
    public static let duplicatesName = "pairgate_messages_duplicate_total"
    /// A stored message's server timestamp to its commit (histogram).
    public static let inboxLagName = "pairgate_inbox_lag_seconds"
    /// Stanzas whose state could not be loaded or committed (each try counts).
    public static let commitFailuresName = "pairgate_inbox_commit_failures_total"

    private let factory: any MetricsFactory

    /// Records through `factory`; the process's bootstrapped backend by default.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// Counts one handled stanza, and for a stored message the time from its `t` to its commit.
    func record(_ report: InboundReport, committedAt now: Date) {
        switch report.disposition {
        case .stored:
            received(report.messageType)
            if let sentAt = report.sentAt {
                // `t` has second resolution; a clock behind the server's is no negative lag.
                Timer(label: Self.inboxLagName, dimensions: [], preferredDisplayUnit: .seconds, factory: factory)
                    .recordNanoseconds(Int64(max(0, now.timeIntervalSince(sentAt)) * 1e9))
            }
        case .acknowledged where report.tag == "message":
            received(report.messageType)
        case .duplicate:
            Counter(label: Self.duplicatesName, dimensions: [], factory: factory).increment()
        case .decryptFailed(let reason):
            decryptFailure(reason)
        case .refused(.invalidProtobuf):
            decryptFailure("invalid_protobuf")
        case .receipted, .refused, .acknowledged:
            break
        }
        if report.retryReceipt != nil {
            Counter(label: Self.retryReceiptsName, dimensions: [], factory: factory).increment()
        }
    }

    /// A stanza whose state could not be loaded or committed (it is tried again, and answered on
    /// redelivery if the database stays down).
    func commitFailed() {
        Counter(label: Self.commitFailuresName, dimensions: [], factory: factory).increment()
    }

    private func received(_ type: String?) {
        Counter(label: Self.receivedName, dimensions: [("type", type ?? "unknown")], factory: factory).increment()
    }

    private func decryptFailure(_ reason: String) {
        Counter(label: Self.decryptFailuresName, dimensions: [("reason", reason)], factory: factory).increment()
    }
}
