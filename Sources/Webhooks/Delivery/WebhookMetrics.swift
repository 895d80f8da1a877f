import CoreMetrics
import Foundation
import Metrics

/// The webhook metrics, named in one place (docs/webhooks.md). The delivery client records
/// attempts; the delivery workers record finished deliveries, disabled endpoints and, per
/// tenant, the age of the oldest event not yet delivered (the alert signal).
public struct WebhookMetrics: Sendable {
    /// Attempts by `result`: `success`, `http_error`, `timeout`, `network_error`, `refused`.
    public static let attemptsName = "pairgate_webhook_attempts_total"
    /// Attempt latency (histogram), DNS to the end of the capped body, by `result`.
    public static let attemptDurationName = "pairgate_webhook_attempt_duration_seconds"
    /// Deliveries finished, by `outcome`: `delivered`, `failed` (retries exhausted), `gone` (410).
    public static let deliveriesName = "pairgate_webhook_deliveries_total"
    /// Endpoints disabled, by `reason`: `gone` or `failing`.
    public static let endpointsDisabledName = "pairgate_webhook_endpoints_disabled_total"
    /// Per `tenant`: seconds since the oldest event still waiting for an endpoint was committed.
    public static let oldestUndeliveredName = "pairgate_webhook_oldest_undelivered_seconds"

    /// HELP lines for the Prometheus exposition (swift-metrics carries no help text).
    public static let help: [String: String] = [
        attemptsName: "Webhook delivery attempts, by result (success, http_error, timeout, network_error, refused).",
        attemptDurationName: "Webhook attempt latency from DNS to the end of the capped response body, by result.",
        deliveriesName: "Webhook deliveries finished, by outcome (delivered, failed, gone).",
        endpointsDisabledName: "Webhook endpoints disabled, by reason (gone, failing).",
        oldestUndeliveredName: "Age of the oldest event not yet delivered to an endpoint, per tenant.",
    ]

    /// Histogram buckets for the attempt latency: a local receiver answers in milliseconds, the
    /// response timeout is 15 s.
    public static let attemptDurationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(15), .seconds(30),
    ]

    private let factory: any MetricsFactory

    /// Records through `factory`; the process's bootstrapped backend by default.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// Creates every labelled counter and the latency histogram at zero, so that /metrics shows
    /// them, and rates and alerts see their first increase, before the first delivery.
    public func prepare() {
        for result in ["success", "http_error", "timeout", "network_error", "refused"] {
            _ = Counter(label: Self.attemptsName, dimensions: [("result", result)], factory: factory)
        }
        _ = Timer(label: Self.attemptDurationName, dimensions: [("result", "success")], preferredDisplayUnit: .seconds, factory: factory)
        for outcome in ["delivered", "failed", "gone"] {
            _ = Counter(label: Self.deliveriesName, dimensions: [("outcome", outcome)], factory: factory)
        }
        for reason in EndpointDisabled.Reason.allCases {
            _ = Counter(label: Self.endpointsDisabledName, dimensions: [("reason", reason.rawValue)], factory: factory)
        }
    }

    /// One attempt's result and latency (the delivery client calls this).
    public func attempt(_ attempt: DeliveryAttempt) {
        let result: String = switch attempt.result {
        case .response where attempt.isSuccess: "success"
        case .response: "http_error"
        case .timeout: "timeout"
        case .networkError: "network_error"
        case .refused: "refused"
        }
        Counter(label: Self.attemptsName, dimensions: [("result", result)], factory: factory).increment()
        Timer(label: Self.attemptDurationName, dimensions: [("result", result)], preferredDisplayUnit: .seconds, factory: factory)
            .recordNanoseconds(attempt.duration.nanoseconds)
    }

    /// A delivery's final decision; `retry` is not final and records nothing.
    public func deliveryFinished(_ decision: DeliveryPolicy.Decision) {
        let outcome: String
        switch decision {
        case .delivered: outcome = "delivered"
        case .failed: outcome = "failed"
        case .disableEndpoint: outcome = "gone"
        case .retry: return
        }
        Counter(label: Self.deliveriesName, dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    public func endpointDisabled(_ reason: EndpointDisabled.Reason) {
        Counter(label: Self.endpointsDisabledName, dimensions: [("reason", reason.rawValue)], factory: factory).increment()
    }

    /// The oldest undelivered event's age for `tenantID`; zero when nothing waits.
    public func oldestUndelivered(tenantID: UUID, age: Duration) {
        Gauge(label: Self.oldestUndeliveredName, dimensions: [("tenant", tenantID.uuidString.lowercased())], factory: factory)
            .record(age.timeInterval)
    }
}
