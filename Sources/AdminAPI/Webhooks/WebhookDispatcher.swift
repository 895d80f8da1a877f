import DevicePool
import Foundation
import Logging
import PostgresClient
import PostgresStore
import ServiceLifecycle
import Synchronization
import WAWire
import Webhooks

/// The webhook workers of one instance (docs/webhooks.md). Every instance runs them: they claim
/// due deliveries from the outbox (`FOR UPDATE SKIP LOCKED`, no lock held while sending), sign
/// and send each, and record what happened; NOTIFY wakes them for new events, a poll for
/// retries that came due. A delivery whose worker died is claimed again when its claim expires,
/// so delivery is at least once. They also keep the backlog gauge, retention and the queues'
/// repair. A Service: it runs until shutdown, then lets deliveries in flight finish for a moment
/// and gives the rest back. Decisions take their time from `now` (tests move it); the poll and
/// upkeep cadences run on real time, so that they never interfere with a test's manual clock.
public final class WebhookDispatcher: Service, Sendable {
    private let configuration: WebhookConfiguration
    private let store: WebhookStore
    private let database: PostgresConfiguration
    private let sealer: CredentialSealer
    private let metrics: WebhookMetrics
    private let instanceID: String
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let wake = WakeSignal()
    private let inFlight = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let reportedTenants = Mutex<Set<UUID>>([])

    public init(
        configuration: WebhookConfiguration, store: WebhookStore, database: PostgresConfiguration, sealer: CredentialSealer,
        metrics: WebhookMetrics = WebhookMetrics(), instanceID: String, now: @escaping @Sendable () -> Date, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.database = database
        self.sealer = sealer
        self.metrics = metrics
        self.instanceID = instanceID
        self.now = now
        self.logger = logger
    }

    public func run() async throws {
        metrics.prepare()
        let listener = try PostgresListener(configuration: database, channels: [WebhookOutbox.channel], logger: logger)
        let client = DeliveryClient(configuration: configuration.delivery, resolver: configuration.resolver, metrics: metrics, logger: logger)
        await withDiscardingTaskGroup { group in
            group.addTask { await listener.run() }
            group.addTask {
                // `.listening` too: notifications sent while not listening are lost, so look again.
                for await _ in listener.events { self.wake.signal() }
            }
            group.addTask { await self.keepUp() }
            await withGracefulShutdownHandler {
                await self.dispatch(client)
            } onGracefulShutdown: {
                self.stopping.store(true, ordering: .relaxed)
                self.wake.signal()
            }
            group.cancelAll()
        }
        await client.shutdown()
    }

    // MARK: Delivering

    /// Claims while there is room and something is due, hands each delivery to a task of its
    /// own, and sleeps until NOTIFY, a finished delivery or the poll interval wakes it.
    private func dispatch(_ client: DeliveryClient) async {
        await withDiscardingTaskGroup { deliveries in
            while !stopping.load(ordering: .relaxed), !Task.isCancelled {
                let room = configuration.concurrency - inFlight.load(ordering: .relaxed)
                var full = false
                if room > 0 {
                    do {
                        let claimed = try await store.claim(limit: room, now: now(), lease: configuration.claimDuration, claimID: UUID())
                        for delivery in claimed {
                            inFlight.add(1, ordering: .relaxed)
                            deliveries.addTask {
                                await self.deliver(delivery, with: client)
                                self.inFlight.subtract(1, ordering: .relaxed)
                                self.wake.signal()
                            }
                        }
                        full = claimed.count == room
                    } catch {
                        logger.warning("claiming webhook deliveries failed", metadata: ["error": "\(error)"])
                    }
                }
                if !full { await wake.wait(timeout: configuration.pollInterval) }
            }
            // Shutting down: what is in flight may finish within the grace period; the rest is given back.
            let deadline = ContinuousClock.now + configuration.shutdownGrace
            while inFlight.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline {
                await wake.wait(timeout: deadline - ContinuousClock.now)
            }
            deliveries.cancelAll()
        }
    }

    /// Claims and delivers whatever is due now, waiting for every outcome; returns how many were
    /// claimed. For tests, which drive the workers step by step on a manual clock.
    public func deliverDue(limit: Int = 100) async throws -> Int {
        let client = DeliveryClient(configuration: configuration.delivery, resolver: configuration.resolver, metrics: metrics, logger: logger)
        let claimed = try await store.claim(limit: limit, now: now(), lease: configuration.claimDuration, claimID: UUID())
        await withDiscardingTaskGroup { group in
            for delivery in claimed { group.addTask { await self.deliver(delivery, with: client) } }
        }
        await client.shutdown()
        return claimed.count
    }

    /// One attempt of `claimed` and its outcome: delivered, retried later, or failed; a 410 or
    /// a day of failures disables the endpoint.
    func deliver(_ claimed: ClaimedDelivery, with client: DeliveryClient) async {
        let startedAt = now()
        guard claimed.endpointEnabled else {
            // Disabled after this delivery was queued: it fails unsent, like the others.
            await record(claimed, attempt: nil, verdict: .failed, decision: .failed)
            return
        }
        let attempt: Attempt
        do {
            attempt = try await send(claimed, at: startedAt, with: client)
        } catch {
            // Cancelled at shutdown: nothing is recorded; the delivery goes back in line.
            do { try await store.release(claimed) } catch {
                logger.notice("could not give back a webhook delivery; its claim expires", metadata: ["error": "\(error)"])
            }
            return
        }
        var random = SystemRandomNumberGenerator()
        let decision = configuration.policy.decide(
            attempt.policyResult, attempt: claimed.attempt, firstAttemptAt: claimed.firstAttemptAt, now: now(), random: &random
        )
        let verdict: WebhookDeliveryVerdict = switch decision {
        case .delivered: .delivered
        case .retry(let at): .retry(at: at)
        case .failed, .disableEndpoint: .failed
        }
        await record(claimed, attempt: attempt.record(claimed, startedAt: startedAt, instance: instanceID), verdict: verdict, decision: decision)
    }

    /// An attempt: sent (whatever came of it), or not sendable because the configured master
    /// keys cannot open the endpoint's secret (a failure like any other, until an operator acts).
    private enum Attempt {
        case sent(DeliveryAttempt)
        case unsigned

        var policyResult: DeliveryAttempt.Result {
            switch self {
            case .sent(let attempt): attempt.result
            case .unsigned: .networkError(detail: "secret_unreadable")
            }
        }

        func record(_ claimed: ClaimedDelivery, startedAt: Date, instance: String) -> WebhookAttemptRecord {
            switch self {
            case .sent(let attempt):
                WebhookAttemptRecord(
                    attempt: claimed.attempt, startedAt: startedAt, result: WebhookDispatcher.resultName(attempt), statusCode: attempt.statusCode,
                    error: attempt.isSuccess ? nil : attempt.summary, detail: WebhookDispatcher.detail(attempt),
                    latencyMilliseconds: Int(attempt.duration.seconds * 1000), response: WebhookDispatcher.excerpt(attempt.responseBody),
                    instance: instance
                )
            case .unsigned:
                WebhookAttemptRecord(
                    attempt: claimed.attempt, startedAt: startedAt, result: "refused", statusCode: nil, error: "secret_unreadable",
                    detail: "the signing secret cannot be opened with the configured master keys", latencyMilliseconds: 0, response: nil,
                    instance: instance
                )
            }
        }
    }

    /// Signs and sends; a URL the policy refuses now (`allow_private` turned off since) is an
    /// attempt that was not sent.
    private func send(_ claimed: ClaimedDelivery, at startedAt: Date, with client: DeliveryClient) async throws(CancellationError) -> Attempt {
        let url: WebhookURL
        do {
            url = try WebhookURL(validating: claimed.url, policy: configuration.delivery.addressPolicy)
        } catch {
            let attempt = DeliveryAttempt(result: .refused(error), duration: .zero)
            metrics.attempt(attempt)
            return .sent(attempt)
        }
        guard let secrets = try? signingSecrets(claimed, at: startedAt) else {
            logger.error("a webhook secret cannot be opened with the configured master keys", metadata: ["endpoint": "\(claimed.endpointID)"])
            return .unsigned
        }
        let headers = WebhookSigner.sign(id: claimed.eventID.description, timestamp: startedAt, body: claimed.body, secrets: secrets)
        return .sent(try await client.deliver(.init(endpointID: claimed.endpointID.uuidString, url: url, headers: headers, body: claimed.body)))
    }

    /// The current secret, and the previous one while its rotation overlap lasts.
    private func signingSecrets(_ claimed: ClaimedDelivery, at date: Date) throws -> [WebhookSecret] {
        var secrets = [try openSecret(claimed.secret, of: claimed)]
        if let previous = claimed.previousSecret, let expires = claimed.previousSecretExpiresAt, expires > date {
            secrets.append(try openSecret(previous, of: claimed))
        }
        return secrets
    }

    private func openSecret(_ sealed: SealedCredential, of claimed: ClaimedDelivery) throws -> WebhookSecret {
        try WebhookSecret(bytes: sealer.tenant(claimed.tenantID).open(sealed, deviceID: claimed.endpointID, kind: WebhookStore.secretKind))
    }

    private func record(
        _ claimed: ClaimedDelivery, attempt: WebhookAttemptRecord?, verdict: WebhookDeliveryVerdict, decision: DeliveryPolicy.Decision
    ) async {
        let redacted = (try? WebhookURL(validating: claimed.url, policy: AddressPolicy(allowPrivate: true)).redacted) ?? "(invalid URL)"
        let rule = WebhookStore.DisableRule(
            gone: decision == .disableEndpoint, failingFor: configuration.policy.disableAfter, redactedURL: redacted
        )
        let finish: WebhookStore.Finish
        do {
            finish = try await store.finish(claimed, attempt: attempt, verdict: verdict, rule: rule, now: now())
        } catch {
            logger.warning("could not record a webhook delivery; its claim expires and it is sent again", metadata: ["error": "\(error)"])
            return
        }
        if finish.recorded { metrics.deliveryFinished(decision) }
        if let reason = finish.disabled {
            metrics.endpointDisabled(reason)
            logger.notice("disabled a webhook endpoint", metadata: [
                "endpoint": "\(claimed.endpointID)", "tenant": "\(claimed.tenantID)", "reason": "\(reason.rawValue)",
            ])
        }
    }

    private static func resultName(_ attempt: DeliveryAttempt) -> String {
        switch attempt.result {
        case .response where attempt.isSuccess: "success"
        case .response: "http_error"
        case .timeout: "timeout"
        case .networkError: "network_error"
        case .refused: "refused"
        }
    }

    private static func detail(_ attempt: DeliveryAttempt) -> String? {
        switch attempt.result {
        case .response, .timeout: nil
        case .networkError(let detail): detail
        case .refused(let error): error.reason
        }
    }

    /// The first 512 bytes of the response as text (PostgreSQL text holds no NUL).
    private static func excerpt(_ body: [UInt8]) -> String? {
        guard !body.isEmpty else { return nil }
        return String(decoding: body.prefix(512), as: UTF8.self).replacingOccurrences(of: "\0", with: "")
    }

    // MARK: Upkeep

    /// The backlog gauge every `backlogInterval`; retention and the queue repair every
    /// `upkeepInterval`. Every instance does both: they are idempotent and cheap. The first of
    /// each comes one interval after the start, not with it: instances starting together (a
    /// deployment, a test suite) do not all query at once.
    private func keepUp() async {
        var lastUpkeep = ContinuousClock.now
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.backlogInterval) } catch { return }
            await readBacklog()
            if ContinuousClock.now - lastUpkeep >= configuration.upkeepInterval {
                lastUpkeep = .now
                await upkeep()
            }
        }
    }

    /// Sets the oldest-undelivered gauge of every tenant with endpoints (zero when nothing waits,
    /// and for tenants that no longer have any).
    public func readBacklog() async {
        do {
            let ages = try await store.oldestUndelivered(now: now())
            let gone = reportedTenants.withLock { reported in
                defer { reported = Set(ages.keys) }
                return reported.subtracting(ages.keys)
            }
            for (tenant, age) in ages { metrics.oldestUndelivered(tenantID: tenant, age: age) }
            for tenant in gone { metrics.oldestUndelivered(tenantID: tenant, age: .zero) }
        } catch {
            logger.warning("reading the webhook backlog failed", metadata: ["error": "\(error)"])
        }
    }

    /// Deletes what retention no longer keeps, and repairs any queue left without a head.
    public func upkeep() async {
        do {
            let purged = try await store.purge(before: now().addingTimeInterval(-configuration.retention.seconds))
            if purged.deliveries + purged.events > 0 {
                logger.info("webhook retention", metadata: ["deliveries": "\(purged.deliveries)", "events": "\(purged.events)"])
            }
            let repaired = try await store.repairQueues()
            if repaired > 0 {
                logger.warning("webhook queues without a head were put back in line", metadata: ["queues": "\(repaired)"])
                wake.signal()
            }
        } catch {
            logger.warning("webhook upkeep failed", metadata: ["error": "\(error)"])
        }
    }
}

extension DeliveryAttempt {
    /// The HTTP status, when the receiver answered.
    var statusCode: Int? {
        if case .response(let status, _) = result { return status }
        return nil
    }
}
