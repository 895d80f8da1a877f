import DevicePool
import Foundation
import PostgresClient
import Webhooks

/// A tenant's webhook endpoint as stored; the secrets stay sealed here.
public struct WebhookEndpointRecord: Sendable, Hashable {
    public var id: UUID
    public var tenantID: UUID
    /// The normalized URL (`WebhookURL.absoluteString`).
    public var url: String
    public var eventTypes: [EventType]
    public var description: String?
    public var enabled: Bool
    public var secret: SealedCredential
    /// The secret before the last rotation, signing beside the current one until it expires.
    public var previousSecret: SealedCredential?
    public var previousSecretExpiresAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    /// Since when every attempt failed; nil after a success.
    public var failingSince: Date?
    public var lastError: String?
    public var disabledAt: Date?
    /// `gone`, `failing` or `manual`.
    public var disabledReason: String?
}

/// What PATCH /webhooks/{id} changes; nil fields stay as they are.
public struct WebhookEndpointChanges: Sendable, Hashable {
    public var url: String?
    public var eventTypes: [EventType]?
    /// An empty description removes it.
    public var description: String?
    public var enabled: Bool?

    public init(url: String? = nil, eventTypes: [EventType]? = nil, description: String? = nil, enabled: Bool? = nil) {
        self.url = url
        self.eventTypes = eventTypes
        self.description = description
        self.enabled = enabled
    }
}

/// Webhook endpoints, the outbox's deliveries and their attempts in PostgreSQL (docs/webhooks.md).
/// The events themselves are written by `WebhookOutbox`, inside the transactions of their changes.
public struct WebhookStore: Sendable {
    /// The sealing kind of endpoint secrets: the endpoint id and this are the associated data.
    public static let secretKind = "webhook-secret"

    let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    static let endpointColumns = """
        id, tenant_id, url, event_types, description, enabled, secret_key_id, secret_sealed, previous_key_id, previous_sealed,
        previous_expires_at, created_at, updated_at, failing_since, last_error, disabled_at, disabled_reason
        """

    static func endpoint(from row: PostgresRow) throws -> WebhookEndpointRecord {
        let types: PostgresArray<String> = try row.decode("event_types")
        var previous: SealedCredential?
        if let keyID: String = try row.decode("previous_key_id"), let sealed: [UInt8] = try row.decode("previous_sealed") {
            previous = SealedCredential(keyID: keyID, bytes: sealed)
        }
        return WebhookEndpointRecord(
            id: try row.decode("id"), tenantID: try row.decode("tenant_id"), url: try row.decode("url"),
            eventTypes: types.elements.compactMap(EventType.init(rawValue:)), description: try row.decode("description"),
            enabled: try row.decode("enabled"),
            secret: SealedCredential(keyID: try row.decode("secret_key_id"), bytes: try row.decode("secret_sealed")),
            previousSecret: previous, previousSecretExpiresAt: try row.decode("previous_expires_at"),
            createdAt: try row.decode("created_at"), updatedAt: try row.decode("updated_at"), failingSince: try row.decode("failing_since"),
            lastError: try row.decode("last_error"), disabledAt: try row.decode("disabled_at"), disabledReason: try row.decode("disabled_reason")
        )
    }

    // MARK: Endpoints

    /// Registers an endpoint whose secret was sealed for `id`; nil when the tenant already has
    /// `limit` endpoints.
    public func createEndpoint(
        id: UUID, tenantID: UUID, url: String, eventTypes: [EventType], description: String?, secret: SealedCredential, limit: Int
    ) async throws -> WebhookEndpointRecord? {
        try await pool.withTransaction { connection in
            // The tenant's row lock serializes registrations, so the limit holds under concurrency.
            try connection.query("SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE", [tenantID])
            let count: Int64 = try connection.query("SELECT count(*) FROM webhook_endpoints WHERE tenant_id = $1", [tenantID])[0].decode(0)
            guard count < limit else { return nil }
            return try Self.endpoint(from: connection.query("""
                INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, description, secret_key_id, secret_sealed)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                RETURNING \(Self.endpointColumns)
                """, [id, tenantID, url, PostgresArray(eventTypes.map(\.rawValue)), description, secret.keyID, secret.bytes])[0])
        }
    }

    /// The tenant's endpoints, oldest first.
    public func endpoints(tenantID: UUID) async throws -> [WebhookEndpointRecord] {
        try await pool.query(
            "SELECT \(Self.endpointColumns) FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id", [tenantID]
        ).map(Self.endpoint(from:))
    }

    /// One endpoint, if it is the tenant's.
    public func endpoint(_ id: UUID, tenantID: UUID) async throws -> WebhookEndpointRecord? {
        try await pool.query(
            "SELECT \(Self.endpointColumns) FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2", [id, tenantID]
        ).first.map(Self.endpoint(from:))
    }

    /// Applies `changes`; nil when the tenant has no such endpoint. Disabling fails its pending
    /// deliveries (`endpoint_disabled`); enabling clears the failure record and puts the head of
    /// each of its queues back in line.
    public func updateEndpoint(_ id: UUID, tenantID: UUID, changes: WebhookEndpointChanges, now: Date) async throws -> WebhookEndpointRecord? {
        try await pool.withTransaction { connection in
            let rows = try connection.query("""
                SELECT enabled FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2 FOR UPDATE
                """, [id, tenantID])
            guard let row = rows.first else { return nil }
            let wasEnabled: Bool = try row.decode(0)
            try connection.query("""
                UPDATE webhook_endpoints SET url = coalesce($2, url), event_types = coalesce($3, event_types),
                    description = CASE WHEN $4::text IS NULL THEN description ELSE nullif($4::text, '') END, updated_at = $5
                WHERE id = $1
                """, [id, changes.url, changes.eventTypes.map { PostgresArray($0.map(\.rawValue)) }, changes.description, now])
            switch (wasEnabled, changes.enabled) {
            case (true, false?):
                try Self.disable(id, reason: "manual", now: now, on: connection)
            case (false, true?):
                try connection.query("""
                    UPDATE webhook_endpoints SET enabled = true, disabled_at = NULL, disabled_reason = NULL,
                        failing_since = NULL, last_error = NULL
                    WHERE id = $1
                    """, [id])
                try Self.releaseHeads(endpointID: id, on: connection)
            default:
                break
            }
            return try Self.endpoint(from: connection.query("SELECT \(Self.endpointColumns) FROM webhook_endpoints WHERE id = $1", [id])[0])
        }
    }

    /// Deletes the endpoint with its deliveries and attempts; false when the tenant has none such.
    public func deleteEndpoint(_ id: UUID, tenantID: UUID) async throws -> Bool {
        try await !pool.query("DELETE FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2 RETURNING id", [id, tenantID]).isEmpty
    }

    /// Makes `secret` the endpoint's secret; the current one becomes the previous, signing beside
    /// it until `previousExpiresAt` (a secret rotated before then is dropped).
    public func rotateSecret(
        _ id: UUID, tenantID: UUID, secret: SealedCredential, previousExpiresAt: Date, now: Date
    ) async throws -> WebhookEndpointRecord? {
        try await pool.query("""
            UPDATE webhook_endpoints SET previous_key_id = secret_key_id, previous_sealed = secret_sealed,
                previous_expires_at = $5, secret_key_id = $3, secret_sealed = $4, updated_at = $6
            WHERE id = $1 AND tenant_id = $2
            RETURNING \(Self.endpointColumns)
            """, [id, tenantID, secret.keyID, secret.bytes, previousExpiresAt, now]).first.map(Self.endpoint(from:))
    }

    /// Marks the endpoint disabled and fails what it still had to deliver; the tenant, or nil
    /// when it was not enabled.
    @discardableResult
    static func disable(_ id: UUID, reason: String, now: Date, on connection: PostgresConnection) throws -> UUID? {
        let rows = try connection.query("""
            UPDATE webhook_endpoints SET enabled = false, disabled_at = $3, disabled_reason = $2, updated_at = $3
            WHERE id = $1 AND enabled
            RETURNING tenant_id
            """, [id, reason, now])
        guard let row = rows.first else { return nil }
        try connection.query("""
            UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, claim_id = NULL, finished_at = $2,
                last_error = 'endpoint_disabled'
            WHERE endpoint_id = $1 AND status IN ('pending', 'delivering')
            """, [id, now])
        return try row.decode(0)
    }

    /// Makes the first pending delivery of each of the endpoint's queues that has no head due at
    /// once; returns how many. (Re-enabling, and the workers' periodic repair.)
    @discardableResult
    static func releaseHeads(endpointID: UUID?, on connection: PostgresConnection) throws -> Int {
        try connection.query("""
            WITH firsts AS (
                SELECT DISTINCT ON (endpoint_id, stream_id) id, status, next_attempt_at
                FROM webhook_deliveries
                WHERE status IN ('pending', 'delivering') AND ($1::uuid IS NULL OR endpoint_id = $1)
                ORDER BY endpoint_id, stream_id, id
            )
            UPDATE webhook_deliveries d SET next_attempt_at = '-infinity'
            FROM firsts
            WHERE d.id = firsts.id AND firsts.status = 'pending' AND firsts.next_attempt_at IS NULL
            RETURNING d.id
            """, [endpointID]).count
    }

    // MARK: Key rotation

    /// Re-seals every endpoint secret (and previous secret) not sealed under `sealer.current` in
    /// the current format (`pairgate keys rotate`); returns how many endpoints were re-sealed and
    /// those whose secrets the configured keys cannot open for the endpoint and its tenant.
    public func resealAll(with sealer: CredentialSealer, batchSize: Int = 500) async throws -> (resealed: Int, unreadable: [(endpointID: UUID, keyID: String)]) {
        var resealed = 0
        var unreadable: [(endpointID: UUID, keyID: String)] = []
        // Every endpoint is read, in id order: a secret's format is known only by opening it.
        var cursor: UUID?
        while true {
            let batch = try await endpoints(after: cursor, limit: batchSize)
            for endpoint in batch {
                cursor = endpoint.id
                do {
                    let tenant = sealer.tenant(endpoint.tenantID)
                    var changed = false
                    func current(_ sealed: SealedCredential) throws(SealingError) -> SealedCredential {
                        guard let fresh = try tenant.reseal(sealed, deviceID: endpoint.id, kind: Self.secretKind) else { return sealed }
                        changed = true
                        return fresh
                    }
                    let secret = try current(endpoint.secret)
                    let previous = try endpoint.previousSecret.map(current)
                    guard changed else { continue }
                    if try await replaceSealed(endpoint, secret: secret, previous: previous) {
                        resealed += 1
                    }
                } catch is SealingError {
                    unreadable.append((endpoint.id, endpoint.secret.keyID))
                }
            }
            if batch.count < batchSize { break }
        }
        return (resealed, unreadable)
    }

    /// A page of endpoints in id order, after `after`.
    private func endpoints(after: UUID?, limit: Int) async throws -> [WebhookEndpointRecord] {
        try await pool.query("""
            SELECT \(Self.endpointColumns) FROM webhook_endpoints
            WHERE $1::uuid IS NULL OR id > $1::uuid
            ORDER BY id LIMIT $2
            """, [after, limit]).map(Self.endpoint(from:))
    }

    /// Replaces an endpoint's sealed secrets if they are still the ones that were read (a
    /// rotation through the API meanwhile wins).
    private func replaceSealed(_ endpoint: WebhookEndpointRecord, secret: SealedCredential, previous: SealedCredential?) async throws -> Bool {
        try await !pool.query("""
            UPDATE webhook_endpoints SET secret_key_id = $4, secret_sealed = $5, previous_key_id = $6, previous_sealed = $7
            WHERE id = $1 AND secret_sealed = $2 AND previous_sealed IS NOT DISTINCT FROM $3
            RETURNING id
            """, [endpoint.id, endpoint.secret.bytes, endpoint.previousSecret?.bytes, secret.keyID, secret.bytes,
                  previous?.keyID, previous?.bytes]).isEmpty
    }
}
