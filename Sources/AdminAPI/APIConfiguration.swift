import Foundation

/// How the HTTP API behaves; every default is the documented one (docs/configuration.md).
public struct APIConfiguration: Sendable {
    /// Peers whose X-Forwarded-Host / X-Forwarded-Proto are believed (`http.trusted_proxies`).
    public var trustedProxies: TrustedProxies = .none
    /// The admin bearer token (`admin.token`); nil closes the admin API.
    public var adminToken: String?
    /// The key of pairing-page links (`http.link_key`), shared by every instance.
    public var linkKey: [UInt8]
    /// POST /pair per tenant and instance: `pairBurst` at once, refilled at this rate.
    public var pairRatePerMinute: Double = 6
    public var pairBurst = 3
    /// Messages one tenant may queue through POST /messages in 24 hours (`messages.tenant_daily_quota`); nil: unlimited.
    public var tenantDailyQuota: Int?
    /// How long POST /pair waits for the first QR or code before answering without it.
    public var firstCodeWait: Duration = .seconds(5)
    /// How long a request may take, its body included, before the caller gets 503
    /// `request_timeout`; also its database waits' deadline.
    public var requestTimeout: Duration = .seconds(30)
    /// How often an event stream sends a comment so proxies and clients see it alive.
    public var heartbeat: Duration = .seconds(15)
    /// How long host and token lookups are cached when no invalidation arrives.
    public var tenantCacheTTL: Duration = .seconds(5)
    /// Lookups of hosts and tokens not in the cache (requests not yet authenticated) that may
    /// run at once (`http.max_pending_lookups`). Up to 16 callers per slot more wait in line for
    /// at most `lookupWait`; beyond the line, or past the wait, they are answered 503 `overloaded`.
    public var maximumPendingLookups = 4
    public var lookupWait: Duration = .seconds(1)
    /// How long a reset routed to another instance waits for its answer.
    public var forwardTimeout: Duration = .seconds(10)
    /// Devices POST /reset {"all":true} resets at once (`http.reset_concurrency`).
    public var resetConcurrency = 8
    /// Event streams open at once per pairing, per tenant and on this instance; one more is 429
    /// `too_many_streams` (`http.sse_max_per_pairing`, `…_per_tenant`, `…_per_instance`).
    public var streamsPerPairing = 10
    public var streamsPerTenant = 50
    public var streamsPerInstance = 2000
    /// How long a tenant's rendered GET /status is reused (`http.status_cache_ms`); zero reads
    /// the database on every request.
    public var statusCacheTTL: Duration = .seconds(1)
    /// How often the admin page's event stream reads the fleet again (it sends only changes).
    public var adminPageRefresh: Duration = .seconds(1)

    public init(linkKey: [UInt8]) {
        self.linkKey = linkKey
    }
}
