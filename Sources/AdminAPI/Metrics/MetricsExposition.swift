import DevicePool
import Metrics
import Prometheus
import WAWire
import Webhooks

/// The Prometheus text of a registry, with a HELP line for every family: swift-metrics has no
/// help text, so it comes from this catalogue (`promtool check metrics` wants one per metric).
enum MetricsExposition {
    static let help: [String: String] = [
        "pairgate_devices": "Devices by state, fleet-wide, read from the database at most every 10 s.",
        "pairgate_client_version_revision": "The revision of the WhatsApp Web version this instance announces (2.3000.<revision>).",
        "pairgate_client_version_checks_total": "Checks of the current WhatsApp Web version at its source, by result (unchanged, updated, failed).",
        "pairgate_lease_deadline_closes_total": "Devices closed because no renewal of their lease succeeded within TTL minus the margin.",
        "pairgate_lease_renewals_total": "Batch renewals of this instance's device leases, by result.",
        "pairgate_pairings_total": "Pairings ended, by outcome (paired, timeout, cancelled, failed, interrupted).",
        "pairgate_pairing_duration_seconds": "Time from the start of a pairing to its end.",
        "pairgate_qr_codes_issued_total": "QR codes shown to tenants (each rotation counts).",
        "pairgate_connection_attempts_total": "Upstream connections opened, by intent (pair or login).",
        "pairgate_connection_results_total": "Upstream connections that reached a result, by result.",
        "pairgate_disconnects_total": "Upstream disconnects, by classified category and stage.",
        "pairgate_handshake_duration_seconds": "Time from opening an upstream connection to login success (TCP, TLS, WebSocket, Noise, login).",
        "pairgate_keepalive_changes_total": "Keepalive pings lost and restored.",
        "pairgate_keepalive_round_trip_seconds": "Time from a keepalive ping to its answer.",
        "pairgate_leases_lost_total": "Devices this instance stopped because their lease was lost.",
        "pairgate_handovers_total": "Devices handed between instances: out (released to a peer), in (claimed on a peer's word), missed (handed here but not claimable).",
        "pairgate_fair_share_devices": "This instance's fair share of the fleet's live devices, by capacity, at the last rebalancing round.",
        "pairgate_pairing_lock_rejections_total": "Pairing requests refused because the tenant already has one running.",
        "pairgate_state_machine_rejections_total": "Device events the state machine rejected as invalid in the current state.",
        ReceiveMetrics.receivedName: "Messages received, by type: stored ones by the inbox's type; statuses, newsletters and unavailable messages (acked only) under their own.",
        ReceiveMetrics.decryptFailuresName: "Messages that could not be decrypted or read, by reason (the Signal error, invalid_padding, invalid_protobuf).",
        ReceiveMetrics.retryReceiptsName: "Retry receipts sent, asking a sender to encrypt a message again.",
        ReceiveMetrics.duplicatesName: "Redelivered messages recognised as handled before: answered with their receipt, not stored again.",
        ReceiveMetrics.inboxLagName: "Time from a message's server timestamp to its commit in the inbox (the timestamp has second resolution).",
        ReceiveMetrics.commitFailuresName: "Stanzas whose state could not be loaded or committed; each is tried again, and stays unanswered for the server to redeliver if the database stays down.",
        "pairgate_http_requests_total": "HTTP requests by route template, method and status.",
        "pairgate_http_request_duration_seconds": "HTTP handling time until the response head, by route template and method.",
    ].merging(WebhookMetrics.help) { mine, _ in mine }

    /// Sets the gauges read at scrape time (devices by state, when counts are at hand; the
    /// client version's revision), then renders the registry.
    static func render(_ registry: PrometheusCollectorRegistry, devicesByState: [DeviceState.Kind: Int]?, clientVersion: String) -> String {
        if let devicesByState {
            for kind in DeviceState.Kind.allCases {
                Gauge(label: "pairgate_devices", dimensions: [("state", kind.rawValue)]).record(devicesByState[kind] ?? 0)
            }
        }
        if let revision = WebClientVersion(clientVersion)?.tertiary {
            Gauge(label: "pairgate_client_version_revision").record(Double(revision))
        }
        return withHelp(registry.emitToString())
    }

    static func withHelp(_ text: String) -> String {
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE ") {
                let name = String(line.dropFirst("# TYPE ".count).prefix { $0 != " " })
                lines.append("# HELP \(name) \(help[name] ?? "Pairgate metric \(name).")")
            }
            lines.append(String(line))
        }
        return lines.joined(separator: "\n")
    }
}
