import Foundation
import PostgresClient
import Webhooks

/// The transactional outbox of webhook events (docs/webhooks.md): an event is written by the
/// transaction that makes its change, so there is no event without its change and no change
/// without its event. Any instance's workers deliver it; NOTIFY, sent at commit, wakes them.
///
/// Emitting a new event type from a store transaction is one call beside the change:
///
///     try WebhookOutbox.emit(.messageReceived(…), tenantID: tenant, deviceID: device, at: storedAt, on: connection)
public enum WebhookOutbox {
    /// The NOTIFY channel that says deliveries are due.
    public static let channel = "pairgate_webhooks"

    /// Writes `data` as an event of `tenantID` about `deviceID` (nil: the tenant as a whole) that
    /// happened at `at`, with one delivery for each of the tenant's enabled endpoints subscribed
    /// to its type, and wakes the workers at commit if there is one. Call it on the connection of
    /// the transaction that makes the change. Returns the event's id.
    @discardableResult
    public static func emit(_ data: EventData, tenantID: UUID, deviceID: UUID?, at: Date, on connection: PostgresConnection) throws -> EventID {
        var random = SystemRandomNumberGenerator()
        let event = WebhookEvent(data, tenantID: tenantID, deviceID: deviceID, now: at, random: &random)
        let stream = deviceID ?? tenantID
        // Its own statement, before the next one takes its snapshot: the stream's lock makes
        // this transaction see every event and delivery of the stream committed before it.
        let sequence: Int64 = try connection.query("""
            INSERT INTO webhook_streams AS s (id, last_sequence) VALUES ($1, 1)
            ON CONFLICT (id) DO UPDATE SET last_sequence = s.last_sequence + 1
            RETURNING last_sequence
            """, [stream])[0].decode(0)
        // A delivery is the head of its (endpoint, stream) queue, due at once, unless an earlier
        // one of the same queue is still pending or being delivered; then it waits (NULL).
        try connection.query("""
            WITH event AS (
                INSERT INTO webhook_events (id, tenant_id, device_id, stream_id, sequence, type, body, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                RETURNING id
            ), queued AS (
                INSERT INTO webhook_deliveries (event_id, endpoint_id, tenant_id, stream_id, next_attempt_at)
                SELECT event.id, e.id, $2, $4,
                       CASE WHEN EXISTS (
                           SELECT 1 FROM webhook_deliveries d
                           WHERE d.endpoint_id = e.id AND d.stream_id = $4 AND d.status IN ('pending', 'delivering')
                       ) THEN NULL ELSE '-infinity'::timestamptz END
                FROM webhook_endpoints e, event
                WHERE e.tenant_id = $2 AND e.enabled AND $6 = ANY (e.event_types)
                ORDER BY e.id
                RETURNING id
            ), woken AS (
                SELECT pg_notify('\(channel)', '') FROM (SELECT 1 FROM queued LIMIT 1) q
            )
            SELECT (SELECT count(*) FROM queued), (SELECT count(*) FROM woken)
            """, [event.id.uuid, tenantID, deviceID, stream, sequence, data.type.rawValue, try event.jsonBody(), event.timestamp])
        return event.id
    }
}
