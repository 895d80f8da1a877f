import Foundation
import MetricsTestKit
import Testing
import Webhooks

/// The metric names and labels docs/webhooks.md lists, as the workers and the client record them.
@Suite struct WebhookMetricsTests {
    @Test func attemptsAreCountedAndTimedByResult() throws {
        let factory = TestMetrics()
        let metrics = WebhookMetrics(factory: factory)
        let results: [(DeliveryAttempt.Result, String)] = [
            (.response(status: 204, retryAfter: nil), "success"), (.response(status: 503, retryAfter: .seconds(3)), "http_error"),
            (.response(status: 302, retryAfter: nil), "http_error"), (.timeout, "timeout"), (.networkError(detail: "dns: x"), "network_error"),
            (.refused(WebhookURLError(.privateAddress, "x", category: .loopback)), "refused"),
        ]
        for (result, _) in results { metrics.attempt(DeliveryAttempt(result: result, duration: .milliseconds(42))) }
        for label in ["timeout", "network_error", "refused", "success"] {
            #expect(try factory.expectCounter(WebhookMetrics.attemptsName, [("result", label)]).values == [1])
            #expect(try factory.expectTimer(WebhookMetrics.attemptDurationName, [("result", label)]).values == [42_000_000])
        }
        #expect(try factory.expectCounter(WebhookMetrics.attemptsName, [("result", "http_error")]).values == [1, 1])
    }

    @Test func finishedDeliveriesDisabledEndpointsAndTheOldestAgeAreRecorded() throws {
        let factory = TestMetrics()
        let metrics = WebhookMetrics(factory: factory)
        metrics.deliveryFinished(.delivered)
        metrics.deliveryFinished(.delivered)
        metrics.deliveryFinished(.failed)
        metrics.deliveryFinished(.disableEndpoint)
        metrics.deliveryFinished(.retry(at: Date()))
        #expect(try factory.expectCounter(WebhookMetrics.deliveriesName, [("outcome", "delivered")]).values == [1, 1])
        #expect(try factory.expectCounter(WebhookMetrics.deliveriesName, [("outcome", "failed")]).values == [1])
        #expect(try factory.expectCounter(WebhookMetrics.deliveriesName, [("outcome", "gone")]).values == [1])
        metrics.endpointDisabled(.failing)
        #expect(try factory.expectCounter(WebhookMetrics.endpointsDisabledName, [("reason", "failing")]).values == [1])
        let tenant = UUID(uuidString: "0D6F4B52-3A1E-4C8F-9B7A-2E5D1C0F9A84")!
        metrics.oldestUndelivered(tenantID: tenant, age: .milliseconds(2500))
        #expect(try factory.expectGauge(WebhookMetrics.oldestUndeliveredName, [("tenant", "0d6f4b52-3a1e-4c8f-9b7a-2e5d1c0f9a84")]).lastValue == 2.5)
    }

    @Test func everyMetricHasHelpText() {
        let names = [WebhookMetrics.attemptsName, WebhookMetrics.attemptDurationName, WebhookMetrics.deliveriesName,
                     WebhookMetrics.endpointsDisabledName, WebhookMetrics.oldestUndeliveredName]
        #expect(Set(WebhookMetrics.help.keys) == Set(names))
        #expect(names.allSatisfy { $0.hasPrefix("pairgate_webhook_") })
    }
}
