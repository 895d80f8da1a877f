import DevicePool
import Foundation
import PostgresClient

/// One stored disconnect of a device.
public struct DisconnectRecord: Sendable, Hashable {
    public var at: Date
    public var stage: String
    public var code: Int?
    public var category: String
    public var detail: String?
    public var decision: String
    public var backoffMilliseconds: Int64?
    public var instance: String
}

/// One row of a device's history: a state transition or a disconnect.
public struct HistoryEntry: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case transition, disconnect
    }
    public var kind: Kind
    public var id: Int64
    public var at: Date
    public var instance: String
    /// For transitions.
    public var from: String?
    public var to: String?
    public var reason: String?
    /// For disconnects.
    public var disconnect: DisconnectRecord?
}

/// Where a page of history continues: the last entry returned (newest first).
public struct HistoryCursor: Sendable, Hashable {
    public var at: Date
    public var kind: HistoryEntry.Kind
    public var id: Int64

    public init(at: Date, kind: HistoryEntry.Kind, id: Int64) {
        self.at = at
        self.kind = kind
        self.id = id
    }
}

extension PostgresDeviceStore {
    static func disconnect(from row: PostgresRow) throws -> DisconnectRecord {
        DisconnectRecord(
            at: try row.decode("at"), stage: try row.decode("stage"),
            code: try row.decode("code", as: Int32?.self).map(Int.init),
            category: try row.decode("category"), detail: try row.decode("detail"), decision: try row.decode("decision"),
            backoffMilliseconds: try row.decode("backoff_ms"), instance: try row.decode("instance")
        )
    }

    /// Transitions sort before disconnects at the same instant (rank 1 > 0 in descending order);
    /// each half is read newest first from its `(device_id, at DESC, id DESC)` index.
    static let historySQL = """
            SELECT * FROM (
                SELECT 'transition' AS kind, 1 AS rank, id, at, instance, from_state, to_state, reason,
                       NULL::text AS stage, NULL::integer AS code, NULL::text AS category, NULL::text AS detail,
                       NULL::text AS decision, NULL::bigint AS backoff_ms
                FROM state_transitions WHERE device_id = $1
                UNION ALL
                SELECT 'disconnect', 0, id, at, instance, NULL, NULL, NULL, stage, code, category, detail, decision, backoff_ms
                FROM disconnects WHERE device_id = $1
            ) h
            WHERE $2::timestamptz IS NULL OR (h.at, h.rank, h.id) < ($2::timestamptz, $3::integer, $4::bigint)
            ORDER BY h.at DESC, h.rank DESC, h.id DESC
            LIMIT $5
            """

    /// A device's transitions and disconnects, newest first, `limit` at most, after `cursor`.
    public func history(deviceID: UUID, after cursor: HistoryCursor?, limit: Int) async throws -> [HistoryEntry] {
        let rows = try await pool.query(
            Self.historySQL, [deviceID, cursor?.at, Int32(cursor?.kind == .disconnect ? 0 : 1), cursor?.id ?? 0, Int64(limit)]
        )
        return try rows.map { row in
            let kind = HistoryEntry.Kind(rawValue: try row.decode("kind")) ?? .transition
            return HistoryEntry(
                kind: kind, id: try row.decode("id"), at: try row.decode("at"), instance: try row.decode("instance"),
                from: try row.decode("from_state"), to: try row.decode("to_state"), reason: try row.decode("reason"),
                disconnect: kind == .disconnect ? try Self.disconnect(from: row) : nil
            )
        }
    }

    /// Devices of disabled tenants whose live lease `owner` holds: they must stop.
    public func devicesOfDisabledTenants(owner: String) async throws -> [UUID] {
        try await pool.query("""
            SELECT d.id FROM devices d JOIN tenants t ON t.id = d.tenant_id
            WHERE t.disabled_at IS NOT NULL AND d.lease_owner = $1 AND d.lease_expires_at > now()
            """, [owner]).map { try $0.decode(0) }
    }

    /// How many devices are in each state, fleet-wide.
    public func countsByState() async throws -> [DeviceState.Kind: Int] {
        var counts: [DeviceState.Kind: Int] = [:]
        for row in try await pool.query("SELECT state, count(*) FROM devices GROUP BY state") {
            if let kind = DeviceState.Kind(rawValue: try row.decode(0)) { counts[kind] = try row.decode(1) }
        }
        return counts
    }

    /// Devices by state and by the instance holding a live lease (nil: nobody).
    public func countsByStateAndOwner() async throws -> [(state: DeviceState.Kind, owner: String?, count: Int)] {
        try await pool.query("""
            SELECT state, CASE WHEN lease_expires_at > now() THEN lease_owner END AS owner, count(*)
            FROM devices GROUP BY 1, 2 ORDER BY 1, 2
            """).compactMap { row in
            guard let kind = DeviceState.Kind(rawValue: try row.decode(0)) else { return nil }
            return (kind, try row.decode(1), try row.decode(2))
        }
    }

    /// How many pairings are open, fleet-wide.
    public func openPairingCount() async throws -> Int {
        try await pool.query("SELECT count(*) FROM pairing_sessions WHERE ended_at IS NULL")[0].decode(0)
    }
}
