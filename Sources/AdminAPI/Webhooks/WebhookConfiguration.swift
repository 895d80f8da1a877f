import Webhooks

/// How the gateway delivers webhooks (`webhooks.*`, docs/configuration.md); every default is
/// the documented one.
public struct WebhookConfiguration: Sendable {
    /// Timeouts, the response body cap, the per-endpoint limit and the address policy.
    public var delivery = DeliveryClient.Configuration()
    /// Retries, backoff, `Retry-After` and disabling (`webhooks.retry_*`, `webhooks.disable_after_hours`).
    public var policy = DeliveryPolicy()
    /// How receivers' names are resolved (tests map names to loopback).
    public var resolver: HostResolver = .system
    /// Deliveries in flight per instance (`webhooks.concurrency`).
    public var concurrency = 32
    /// How long a claimed delivery stays a worker's; after that any worker tries it again. It
    /// must exceed the response timeout, or a slow receiver would get two attempts at once.
    public var claimDuration: Duration = .seconds(60)
    /// How long delivered and failed deliveries, their attempts and events no delivery refers to
    /// are kept (`webhooks.retention_hours`); replays reach back this far.
    public var retention: Duration = .seconds(72 * 3600)
    /// Endpoints per tenant (`webhooks.max_endpoints_per_tenant`).
    public var maximumEndpointsPerTenant = 10
    /// The most events one replay request queues; replay after the last one for more.
    public var replayLimit = 10_000
    /// How long the previous secret keeps signing after a rotation.
    public var rotationOverlap: Duration = .seconds(86_400)
    /// How often an idle worker looks for retries that came due (NOTIFY wakes it for new events).
    public var pollInterval: Duration = .seconds(1)
    /// How often the oldest-undelivered gauge is read.
    public var backlogInterval: Duration = .seconds(15)
    /// How often retention and the queue repair run.
    public var upkeepInterval: Duration = .seconds(60)
    /// At shutdown, how long deliveries in flight may finish before they are given back unsent.
    public var shutdownGrace: Duration = .seconds(5)

    public init() {}

    /// Loopback, private and link-local receivers too (`webhooks.allow_private`), for tests and
    /// on-premises use; metadata addresses stay refused.
    public var allowPrivate: Bool {
        get { delivery.addressPolicy.allowPrivate }
        set { delivery.addressPolicy.allowPrivate = newValue }
    }
}
