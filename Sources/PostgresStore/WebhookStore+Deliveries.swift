import DevicePool
import Foundation
import PostgresClient
import WAWire
import Webhooks

/// A delivery a worker claimed: what to send, where, and the sealed secrets to sign it with.
public struct ClaimedDelivery: Sendable, Hashable {
    public var id: Int64
    /// The claim's token: only its holder records the outcome.
    public var claimID: UUID
    /// This attempt's number, 1 for the first.
    public var attempt: Int
    public var firstAttemptAt: Date
    public var endpointID: UUID
    public var tenantID: UUID
    public var streamID: UUID
    public var eventID: EventID
    /// The stored event, byte for byte.
    public var body: [UInt8]
    public var url: String
    public var endpointEnabled: Bool
    public var secret: SealedCredential
    public var previousSecret: SealedCredential?
    public var previousSecretExpiresAt: Date?
}

/// One attempt as the deliveries log keeps it.
public struct WebhookAttemptRecord: Sendable, Hashable {
    public var attempt: Int
    public var startedAt: Date
    /// `success`, `http_error`, `timeout`, `network_error` or `refused`.
    public var result: String
    public var statusCode: Int?
    /// The short summary of a failure (`http_503`, `timeout`, `private_address`…); nil on success.
    public var error: String?
    /// What failed, in a line (never the URL).
    public var detail: String?
    public var latencyMilliseconds: Int
    /// The first bytes of the response body, as text.
    public var response: String?
    public var instance: String

    public init(
        attempt: Int, startedAt: Date, result: String, statusCode: Int?, error: String?, detail: String?,
        latencyMilliseconds: Int, response: String?, instance: String
    ) {
        self.attempt = attempt
        self.startedAt = startedAt
        self.result = result
        self.statusCode = statusCode
        self.error = error
        self.detail = detail
        self.latencyMilliseconds = latencyMilliseconds
        self.response = response
        self.instance = instance
    }
}

/// What becomes of a claimed delivery.
public enum WebhookDeliveryVerdict: Sendable, Hashable {
    case delivered
    case retry(at: Date)
    /// No more attempts: retries exhausted, 410, or the endpoint is disabled.
    case failed
}

/// One delivery as GET /webhooks/{id}/deliveries shows it, with its attempts.
public struct WebhookDeliveryRecord: Sendable, Hashable {
    public var id: Int64
    public var eventID: EventID
    public var eventType: String
    public var deviceID: UUID?
    /// `pending`, `delivering`, `delivered` or `failed`.
    public var status: String
    public var attempts: Int
    /// The next attempt (pending), the claim's expiry (delivering); nil when due at once, waiting
    /// behind an earlier delivery of the same device, or finished.
    public var nextAttemptAt: Date?
    public var lastStatusCode: Int?
    public var lastError: String?
    public var lastLatencyMilliseconds: Int?
    public var createdAt: Date
    public var finishedAt: Date?
    public var attemptLog: [WebhookAttemptRecord]
}

/// Where a replay starts.
public enum WebhookReplayStart: Sendable, Hashable {
    /// Events that happened at or after this time.
    case since(Date)
    /// Events written after this one.
    case afterEvent(EventID)
}

/// What a replay did.
public enum WebhookReplayResult: Sendable, Hashable {
    /// `count` events queued again, in order; `lastEventID` is the last one (replay after it for more).
    case replayed(count: Int, lastEventID: EventID?)
    case endpointNotFound
    case endpointDisabled
    case eventNotFound
}

extension WebhookStore {
    // MARK: Workers

    /// Claims up to `limit` due deliveries (queue heads whose time has come, or whose previous
    /// claim expired) for `lease`: each is `delivering` until it is finished or the lease runs
    /// out, when any worker claims it again. Row locks last only this statement.
    public func claim(limit: Int, now: Date, lease: Duration, claimID: UUID) async throws -> [ClaimedDelivery] {
        let rows = try await pool.query("""
            WITH due AS (
                SELECT id FROM webhook_deliveries
                WHERE status IN ('pending', 'delivering') AND next_attempt_at IS NOT NULL AND next_attempt_at <= $1
                ORDER BY next_attempt_at, id
                LIMIT $2
                FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE webhook_deliveries d SET status = 'delivering', attempts = d.attempts + 1, claim_id = $3,
                    next_attempt_at = $1 + make_interval(secs => $4), first_attempt_at = coalesce(d.first_attempt_at, $1)
                FROM due WHERE d.id = due.id
                RETURNING d.id, d.attempts, d.first_attempt_at, d.endpoint_id, d.event_id, d.stream_id
            )
            SELECT c.id, c.attempts, c.first_attempt_at, c.endpoint_id, c.stream_id, ev.id AS event_id, ev.body,
                   e.tenant_id, e.url, e.enabled, e.secret_key_id, e.secret_sealed, e.previous_key_id, e.previous_sealed,
                   e.previous_expires_at
            FROM claimed c JOIN webhook_events ev ON ev.id = c.event_id JOIN webhook_endpoints e ON e.id = c.endpoint_id
            ORDER BY c.id
            """, [now, Int64(limit), claimID, lease.seconds])
        return try rows.map { row in
            var previous: SealedCredential?
            if let keyID: String = try row.decode("previous_key_id"), let sealed: [UInt8] = try row.decode("previous_sealed") {
                previous = SealedCredential(keyID: keyID, bytes: sealed)
            }
            return ClaimedDelivery(
                id: try row.decode("id"), claimID: claimID, attempt: try row.decode("attempts"), firstAttemptAt: try row.decode("first_attempt_at"),
                endpointID: try row.decode("endpoint_id"), tenantID: try row.decode("tenant_id"), streamID: try row.decode("stream_id"),
                eventID: EventID(uuid: try row.decode("event_id")), body: try row.decode("body"), url: try row.decode("url"),
                endpointEnabled: try row.decode("enabled"),
                secret: SealedCredential(keyID: try row.decode("secret_key_id"), bytes: try row.decode("secret_sealed")),
                previousSecret: previous, previousSecretExpiresAt: try row.decode("previous_expires_at")
            )
        }
    }

    /// When a finished attempt disables its endpoint.
    public struct DisableRule: Sendable, Hashable {
        /// The receiver answered 410 Gone.
        public var gone: Bool
        /// Every attempt failed for this long (`DeliveryPolicy.disableAfter`).
        public var failingFor: Duration
        /// The endpoint's URL without its query, for `endpoint.disabled`.
        public var redactedURL: String

        public init(gone: Bool, failingFor: Duration, redactedURL: String) {
            self.gone = gone
            self.failingFor = failingFor
            self.redactedURL = redactedURL
        }
    }

    /// What `finish` recorded.
    public struct Finish: Sendable, Hashable {
        /// False when the claim was no longer this worker's (it expired and another worker took
        /// the delivery, or the endpoint was disabled or deleted meanwhile): nothing changed but
        /// the attempts log and the endpoint's failure record.
        public var recorded: Bool
        /// Why this attempt disabled the endpoint, if it did.
        public var disabled: EndpointDisabled.Reason?
    }

    /// Records the outcome of `claimed` in one transaction: its attempt (nil when nothing was
    /// sent), the verdict, the endpoint's failure record and, per `rule`, the endpoint's disabling
    /// (its pending deliveries fail, `endpoint.disabled` goes to the tenant's other endpoints).
    /// Otherwise a delivered or failed head lets the next delivery of its queue go and wakes the
    /// workers.
    public func finish(
        _ claimed: ClaimedDelivery, attempt: WebhookAttemptRecord?, verdict: WebhookDeliveryVerdict, rule: DisableRule, now: Date
    ) async throws -> Finish {
        try await pool.withTransaction { connection in
            if verdict == .delivered, let attempt, attempt.error == nil {
                return try Self.finishDelivered(claimed, attempt: attempt, now: now, on: connection)
            }
            let status: String, next: Date?, finished: Date?
            switch verdict {
            case .delivered: (status, next, finished) = ("delivered", nil, now)
            case .retry(let at): (status, next, finished) = ("pending", at, nil)
            case .failed: (status, next, finished) = ("failed", nil, now)
            }
            if finished != nil {
                // The stream's lock: an event committed meanwhile is seen below, and waits for us.
                try connection.query("SELECT 1 FROM webhook_streams WHERE id = $1 FOR UPDATE", [claimed.streamID])
            }
            let updated = try connection.query("""
                UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, claim_id = NULL, finished_at = $5,
                    last_attempt_at = coalesce($6, last_attempt_at), last_status_code = coalesce($7, last_status_code),
                    last_error = $8, last_latency_ms = coalesce($9, last_latency_ms)
                WHERE id = $1 AND claim_id = $2 AND status = 'delivering'
                RETURNING id
                """, [claimed.id, claimed.claimID, status, next, finished, attempt?.startedAt, attempt?.statusCode.map(Int64.init),
                      verdict == .delivered ? nil : attempt?.error ?? "endpoint_disabled", attempt.map { Int64($0.latencyMilliseconds) }])
            let recorded = !updated.isEmpty
            guard let attempt else {
                if recorded, finished != nil { try Self.releaseNext(claimed, on: connection) }
                return Finish(recorded: recorded, disabled: nil)
            }
            try connection.query("""
                INSERT INTO webhook_attempts (delivery_id, attempt, started_at, result, status_code, error, detail, latency_ms, response, instance)
                SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1)
                """, [claimed.id, Int64(attempt.attempt), attempt.startedAt, attempt.result, attempt.statusCode.map(Int64.init),
                      attempt.error, attempt.detail, Int64(attempt.latencyMilliseconds), attempt.response, attempt.instance])
            guard let error = attempt.error else {
                try connection.query(
                    "UPDATE webhook_endpoints SET failing_since = NULL, last_error = NULL WHERE id = $1 AND failing_since IS NOT NULL",
                    [claimed.endpointID]
                )
                if recorded, finished != nil { try Self.releaseNext(claimed, on: connection) }
                return Finish(recorded: recorded, disabled: nil)
            }
            let failingSince: Date? = try connection.query("""
                UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2), last_error = $3 WHERE id = $1
                RETURNING failing_since
                """, [claimed.endpointID, attempt.startedAt, error]).first?.decode(0)
            var reason: EndpointDisabled.Reason?
            if rule.gone {
                reason = .gone
            } else if let failingSince, now.timeIntervalSince(failingSince) >= rule.failingFor.seconds {
                reason = .failing
            }
            if let reason, try Self.disable(claimed.endpointID, reason: reason.rawValue, now: now, on: connection) != nil {
                let event = EndpointDisabled(
                    endpointID: claimed.endpointID, url: rule.redactedURL, reason: reason,
                    failingSince: reason == .failing ? failingSince : nil, lastError: error
                )
                try WebhookOutbox.emit(.endpointDisabled(event), tenantID: claimed.tenantID, deviceID: nil, at: now, on: connection)
                return Finish(recorded: recorded, disabled: reason)
            }
            if recorded, finished != nil { try Self.releaseNext(claimed, on: connection) }
            return Finish(recorded: recorded, disabled: nil)
        }
    }

    /// The common case in two round trips: the stream's lock, then one statement that records the
    /// delivery and its attempt, clears the endpoint's failure record and lets the next delivery
    /// of the queue go (the statement's snapshot still shows this one active, hence `id <> $1`).
    private static func finishDelivered(
        _ claimed: ClaimedDelivery, attempt: WebhookAttemptRecord, now: Date, on connection: PostgresConnection
    ) throws -> Finish {
        try connection.query("SELECT 1 FROM webhook_streams WHERE id = $1 FOR UPDATE", [claimed.streamID])
        let rows = try connection.query("""
            WITH done AS (
                UPDATE webhook_deliveries SET status = 'delivered', next_attempt_at = NULL, claim_id = NULL, finished_at = $3,
                    last_attempt_at = $4, last_status_code = coalesce($5, last_status_code), last_error = NULL, last_latency_ms = $6
                WHERE id = $1 AND claim_id = $2 AND status = 'delivering'
                RETURNING id
            ), logged AS (
                INSERT INTO webhook_attempts (delivery_id, attempt, started_at, result, status_code, latency_ms, response, instance)
                SELECT $1, $7, $4, $8, $5, $6, $9, $10 WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1)
            ), healthy AS (
                UPDATE webhook_endpoints SET failing_since = NULL, last_error = NULL WHERE id = $11 AND failing_since IS NOT NULL
            ), next AS (
                UPDATE webhook_deliveries SET next_attempt_at = '-infinity'
                WHERE id = (
                    SELECT id FROM webhook_deliveries
                    WHERE endpoint_id = $11 AND stream_id = $12 AND status IN ('pending', 'delivering') AND id <> $1
                    ORDER BY id LIMIT 1
                ) AND status = 'pending' AND next_attempt_at IS NULL AND EXISTS (SELECT 1 FROM done)
                RETURNING id
            ), woken AS (
                SELECT pg_notify('\(WebhookOutbox.channel)', '') FROM next
            )
            SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM woken)
            """, [claimed.id, claimed.claimID, now, attempt.startedAt, attempt.statusCode.map(Int64.init), Int64(attempt.latencyMilliseconds),
                  Int64(attempt.attempt), attempt.result, attempt.response, attempt.instance, claimed.endpointID, claimed.streamID])
        return Finish(recorded: try rows[0].decode(0, as: Int64.self) > 0, disabled: nil)
    }

    /// Makes the next delivery of `claimed`'s queue due, and wakes the workers at commit.
    private static func releaseNext(_ claimed: ClaimedDelivery, on connection: PostgresConnection) throws {
        try connection.query("""
            WITH next AS (
                UPDATE webhook_deliveries SET next_attempt_at = '-infinity'
                WHERE id = (
                    SELECT id FROM webhook_deliveries
                    WHERE endpoint_id = $1 AND stream_id = $2 AND status IN ('pending', 'delivering')
                    ORDER BY id LIMIT 1
                ) AND status = 'pending' AND next_attempt_at IS NULL
                RETURNING id
            )
            SELECT pg_notify('\(WebhookOutbox.channel)', '') FROM next
            """, [claimed.endpointID, claimed.streamID])
    }

    /// Gives a claimed delivery back unsent (shutdown): due at once, for any worker.
    public func release(_ claimed: ClaimedDelivery) async throws {
        try await pool.query("""
            UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = '-infinity', claim_id = NULL
            WHERE id = $1 AND claim_id = $2 AND status = 'delivering'
            """, [claimed.id, claimed.claimID])
    }

    // MARK: Upkeep

    /// Per tenant with endpoints: how long the oldest delivery not yet finished has waited; zero
    /// when nothing waits.
    public func oldestUndelivered(now: Date) async throws -> [UUID: Duration] {
        var ages: [UUID: Duration] = [:]
        for row in try await pool.query("""
            SELECT e.tenant_id, min(d.created_at) AS oldest FROM webhook_endpoints e
            LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id AND d.status IN ('pending', 'delivering')
            GROUP BY e.tenant_id
            """) {
            let oldest: Date? = try row.decode("oldest")
            ages[try row.decode("tenant_id")] = .milliseconds(Int64(max(0, oldest.map { now.timeIntervalSince($0) } ?? 0) * 1000))
        }
        return ages
    }

    /// Deletes deliveries (with their attempts) finished before `cutoff`, then events written
    /// before it that no delivery refers to any more; in batches, so no statement runs long.
    public func purge(before cutoff: Date, batch: Int = 5000) async throws -> (deliveries: Int, events: Int) {
        var deliveries = 0, events = 0
        while true {
            let deleted = try await pool.query("""
                WITH doomed AS (SELECT id FROM webhook_deliveries WHERE finished_at < $1 ORDER BY finished_at LIMIT $2)
                DELETE FROM webhook_deliveries d USING doomed WHERE d.id = doomed.id
                """, [cutoff, Int64(batch)]).affectedRows
            deliveries += deleted
            if deleted < batch { break }
        }
        // Event ids are UUIDv7: the id order is the time order, to the millisecond.
        let oldest = EventID.lowerBound(at: cutoff).uuid
        while true {
            let deleted = try await pool.query("""
                WITH doomed AS (
                    SELECT ev.id FROM webhook_events ev
                    WHERE ev.id < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id)
                    LIMIT $2
                )
                DELETE FROM webhook_events ev USING doomed WHERE ev.id = doomed.id
                """, [oldest, Int64(batch)]).affectedRows
            events += deleted
            if deleted < batch { break }
        }
        return (deliveries, events)
    }

    /// Puts back in line any queue whose head is missing (which nothing should leave, but a
    /// queue without a head would wait forever); returns how many it found.
    public func repairQueues() async throws -> Int {
        try await pool.withTransaction { try Self.releaseHeads(endpointID: nil, on: $0) }
    }

    // MARK: The deliveries log

    /// The endpoint's deliveries, newest first, with their attempts: `limit` at most, older than
    /// the delivery `before`, only those with `status` if given.
    public func deliveries(endpointID: UUID, before: Int64?, status: String?, limit: Int) async throws -> [WebhookDeliveryRecord] {
        let rows = try await pool.query("""
            SELECT d.id, d.event_id, ev.type, ev.device_id, d.status, d.attempts,
                   CASE WHEN d.next_attempt_at = '-infinity' THEN NULL ELSE d.next_attempt_at END AS next_attempt_at,
                   d.last_status_code, d.last_error, d.last_latency_ms, d.created_at, d.finished_at
            FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
            WHERE d.endpoint_id = $1 AND ($2::int8 IS NULL OR d.id < $2) AND ($3::text IS NULL OR d.status = $3)
            ORDER BY d.id DESC
            LIMIT $4
            """, [endpointID, before, status, Int64(limit)])
        var records = try rows.map { row in
            WebhookDeliveryRecord(
                id: try row.decode("id"), eventID: EventID(uuid: try row.decode("event_id")), eventType: try row.decode("type"),
                deviceID: try row.decode("device_id"), status: try row.decode("status"), attempts: try row.decode("attempts"),
                nextAttemptAt: try row.decode("next_attempt_at"), lastStatusCode: try row.decode("last_status_code"),
                lastError: try row.decode("last_error"), lastLatencyMilliseconds: try row.decode("last_latency_ms"),
                createdAt: try row.decode("created_at"), finishedAt: try row.decode("finished_at"), attemptLog: []
            )
        }
        guard !records.isEmpty else { return [] }
        var log: [Int64: [WebhookAttemptRecord]] = [:]
        for row in try await pool.query("""
            SELECT delivery_id, attempt, started_at, result, status_code, error, detail, latency_ms, response, instance
            FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, id
            """, [PostgresArray(records.map(\.id))]) {
            log[try row.decode("delivery_id"), default: []].append(WebhookAttemptRecord(
                attempt: try row.decode("attempt"), startedAt: try row.decode("started_at"), result: try row.decode("result"),
                statusCode: try row.decode("status_code"), error: try row.decode("error"), detail: try row.decode("detail"),
                latencyMilliseconds: try row.decode("latency_ms"), response: try row.decode("response"), instance: try row.decode("instance")
            ))
        }
        for index in records.indices { records[index].attemptLog = log[records[index].id] ?? [] }
        return records
    }

    // MARK: Replay

    /// Queues the tenant's events from `start` (of the types the endpoint subscribes to, at most
    /// `limit`, in the order they were written) as new deliveries to the endpoint. Per device
    /// they go after whatever the endpoint still has to deliver for it.
    public func replay(endpointID: UUID, tenantID: UUID, from start: WebhookReplayStart, limit: Int) async throws -> WebhookReplayResult {
        try await pool.withTransaction { connection in
            let endpoints = try connection.query(
                "SELECT event_types, enabled FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2 FOR SHARE", [endpointID, tenantID]
            )
            guard let endpoint = endpoints.first else { return .endpointNotFound }
            guard try endpoint.decode("enabled", as: Bool.self) else { return .endpointDisabled }
            let types: PostgresArray<String> = try endpoint.decode("event_types")
            var after: Int64?, since: Date?
            switch start {
            case .since(let date):
                since = date
            case .afterEvent(let id):
                let found = try connection.query("SELECT position FROM webhook_events WHERE id = $1 AND tenant_id = $2", [id.uuid, tenantID])
                guard let row = found.first else { return .eventNotFound }
                after = try row.decode(0)
            }
            let events = try connection.query("""
                SELECT id, stream_id FROM webhook_events
                WHERE tenant_id = $1 AND type = ANY($2) AND ($3::int8 IS NULL OR position > $3)
                  AND ($4::timestamptz IS NULL OR created_at >= $4)
                ORDER BY position
                LIMIT $5
                """, [tenantID, types, after, since, Int64(limit)])
            guard !events.isEmpty else { return .replayed(count: 0, lastEventID: nil) }
            let ids: [UUID] = try events.map { try $0.decode("id") }
            let streams = Set(try events.map { try $0.decode("stream_id", as: UUID.self) })
            // The streams' locks, in one order for every replay, before looking at their queues.
            try connection.query("SELECT id FROM webhook_streams WHERE id = ANY($1) ORDER BY id FOR UPDATE", [PostgresArray(Array(streams))])
            try connection.query("""
                WITH queued AS (
                    INSERT INTO webhook_deliveries (event_id, endpoint_id, tenant_id, stream_id, next_attempt_at)
                    SELECT ev.id, $1, $2, ev.stream_id,
                           CASE WHEN row_number() OVER (PARTITION BY ev.stream_id ORDER BY ev.position) = 1
                                 AND NOT EXISTS (
                                     SELECT 1 FROM webhook_deliveries d
                                     WHERE d.endpoint_id = $1 AND d.stream_id = ev.stream_id AND d.status IN ('pending', 'delivering')
                                 )
                                THEN '-infinity'::timestamptz END
                    FROM webhook_events ev WHERE ev.id = ANY($3)
                    ORDER BY ev.position
                    RETURNING id
                )
                SELECT pg_notify('\(WebhookOutbox.channel)', '') FROM (SELECT 1 FROM queued LIMIT 1) q
                """, [endpointID, tenantID, PostgresArray(ids)])
            return .replayed(count: ids.count, lastEventID: ids.last.map(EventID.init(uuid:)))
        }
    }
}
