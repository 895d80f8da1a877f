import CoreMetrics
import Foundation
import Messaging
import Metrics
import WAWire

/// The receive path's metrics (docs/api.md lists them; AdminAPI's exposition has their HELP texts).
enum ReceiveMetrics {
    /// Counts one handled stanza, and for a stored message the time from its `t` to its commit.
    static func record(_ report: InboundReport, committedAt now: Date) {
        switch report.disposition {
        case .stored:
            received(report.messageType)
            if let sentAt = report.sentAt {
                // Seconds resolution on `t`; a clock behind the server's is not a negative lag.
                Timer(label: "pairgate_inbox_lag_seconds", preferredDisplayUnit: .seconds)
                    .recordNanoseconds(Int64(max(0, now.timeIntervalSince(sentAt)) * 1e9))
            }
        case .acknowledged where report.tag == "message":
            received(report.messageType)
        case .duplicate:
            Counter(label: "pairgate_messages_duplicate_total").increment()
        case .decryptFailed(let reason):
            decryptFailure(reason)
        case .refused(.invalidProtobuf):
            decryptFailure("invalid_protobuf")
        case .receipted, .refused, .acknowledged:
            break
        }
        if report.retryReceipt != nil {
            Counter(label: "pairgate_retry_receipts_sent_total").increment()
        }
    }

    /// A stanza whose state could not be loaded or committed (it is answered later, on redelivery).
    static func commitFailed() {
        Counter(label: "pairgate_inbox_commit_failures_total").increment()
    }

    private static func received(_ type: String?) {
        Counter(label: "pairgate_messages_received_total", dimensions: [("type", type ?? "unknown")]).increment()
    }

    private static func decryptFailure(_ reason: String) {
        Counter(label: "pairgate_message_decrypt_failures_total", dimensions: [("reason", reason)]).increment()
    }
}
