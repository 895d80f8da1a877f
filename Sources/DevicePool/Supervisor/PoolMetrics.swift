import CoreMetrics
import Foundation
import Metrics
import WAClient
import WAWire

/// The pool's metrics, created once (swift-metrics; the executable chooses the backend).
struct PoolMetrics: Sendable {
    let rejectedEvents = Counter(label: "pairgate_state_machine_rejections_total")
    let leaseRenewalsOK = Counter(label: "pairgate_lease_renewals_total", dimensions: [("result", "ok")])
    let leaseRenewalsFailed = Counter(label: "pairgate_lease_renewals_total", dimensions: [("result", "failed")])
    let leasesLost = Counter(label: "pairgate_leases_lost_total")
    /// Devices closed because no renewal of their lease succeeded within TTL − margin.
    let leaseDeadlines = Counter(label: "pairgate_lease_deadline_closes_total")
    /// Devices this instance released to a peer (rebalancing, drain, shutdown), and devices it
    /// claimed because a peer handed them over.
    let handoversOut = Counter(label: "pairgate_handovers_total", dimensions: [("direction", "out")])
    let handoversIn = Counter(label: "pairgate_handovers_total", dimensions: [("direction", "in")])
    /// A handed-over device this instance could not claim (its lease was not free, or it was full).
    let handoversMissed = Counter(label: "pairgate_handovers_total", dimensions: [("direction", "missed")])
    /// This instance's fair share of the live devices, as the last rebalancing round computed it.
    let fairShare = Gauge(label: "pairgate_fair_share_devices")
    let lockRejections = Counter(label: "pairgate_pairing_lock_rejections_total")
    let qrIssued = Counter(label: "pairgate_qr_codes_issued_total")
    let pairingDurations = Timer(label: "pairgate_pairing_duration_seconds", preferredDisplayUnit: .seconds)
    /// From opening an upstream connection to `<success>`: TCP, TLS, WebSocket, Noise and login.
    let handshakeDurations = Timer(label: "pairgate_handshake_duration_seconds", preferredDisplayUnit: .seconds)
    /// A queued message had to wait for its device's send rate.
    let pacingWaits = Counter(label: "pairgate_send_pacing_waits_total")
    /// Server acks of messages we sent, by result (`sent`, `failed`).
    func messageAcked(_ result: String) {
        Counter(label: "pairgate_messages_sent_total", dimensions: [("result", result)]).increment()
    }
    /// The server answered `rate-overlimit`; the device slowed down.
    let rateOverLimit = Counter(label: "pairgate_send_rate_overlimit_total")

    func pairingDuration(since start: Date, now: Date) {
        pairingDurations.recordNanoseconds(Int64(max(0, now.timeIntervalSince(start)) * 1e9))
    }

    func connectionAttempt(_ intent: ConnectionIntent) {
        let kind = switch intent {
        case .pair: "pair"
        case .login: "login"
        }
        Counter(label: "pairgate_connection_attempts_total", dimensions: [("intent", kind)]).increment()
    }

    func connectionResult(_ result: String) {
        Counter(label: "pairgate_connection_results_total", dimensions: [("result", result)]).increment()
    }

    func disconnect(_ reason: DisconnectReason) {
        Counter(label: "pairgate_disconnects_total", dimensions: [("category", reason.category.rawValue), ("stage", reason.stage.rawValue)]).increment()
    }

    func pairingEnded(_ outcome: PairingOutcome) {
        Counter(label: "pairgate_pairings_total", dimensions: [("outcome", outcome.rawValue)]).increment()
    }

    func keepalive(_ change: String) {
        Counter(label: "pairgate_keepalive_changes_total", dimensions: [("change", change)]).increment()
    }
}
