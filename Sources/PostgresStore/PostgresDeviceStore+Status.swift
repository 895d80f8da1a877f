import DevicePool
import Foundation
import PostgresClient

/// Where a page of a tenant's devices continues: the last device of the previous page (devices
/// are listed oldest first, ties by id).
public struct DeviceCursor: Sendable, Hashable {
    public var createdAt: Date
    public var id: UUID

    public init(createdAt: Date, id: UUID) {
        self.createdAt = createdAt
        self.id = id
    }
}

/// One page of a tenant's devices, and where the next one starts (nil on the last page).
public struct DevicePage: Sendable {
    public var devices: [DeviceRecord]
    public var next: DeviceCursor?
}

extension PostgresDeviceStore {
    /// The first page of a tenant's devices: an ordered range of `devices_tenant_created`. The
    /// first page and the following ones are two statements, so that each is planned as a range.
    static let firstPageSQL = """
        SELECT \(deviceColumns), d.created_at FROM devices d
        WHERE d.tenant_id = $1
        ORDER BY d.created_at, d.id
        LIMIT $2
        """

    static let nextPageSQL = """
        SELECT \(deviceColumns), d.created_at FROM devices d
        WHERE d.tenant_id = $1 AND (d.created_at, d.id) > ($2, $3)
        ORDER BY d.created_at, d.id
        LIMIT $4
        """

    /// Up to `limit` devices of a tenant after `cursor` (from the oldest when nil).
    public func devicePage(tenantID: UUID, after cursor: DeviceCursor?, limit: Int) async throws -> DevicePage {
        let rows = if let cursor {
            try await pool.query(Self.nextPageSQL, [tenantID, cursor.createdAt, cursor.id, Int64(limit + 1)])
        } else {
            try await pool.query(Self.firstPageSQL, [tenantID, Int64(limit + 1)])
        }
        var devices: [(DeviceRecord, Date)] = try rows.map { (try Self.device(from: $0), try $0.decode("created_at")) }
        var next: DeviceCursor?
        if devices.count > limit {
            devices.removeLast(devices.count - limit)
            next = devices.last.map { DeviceCursor(createdAt: $0.1, id: $0.0.id) }
        }
        return DevicePage(devices: devices.map(\.0), next: next)
    }

    /// One index lookup per device (`disconnects_device_at`), newest by time.
    static let lastDisconnectsSQL = """
        SELECT d.id AS device_id, x.at, x.stage, x.code, x.category, x.detail, x.decision, x.backoff_ms, x.instance
        FROM unnest($1::uuid[]) AS d(id)
        CROSS JOIN LATERAL (
            SELECT * FROM disconnects WHERE device_id = d.id ORDER BY at DESC, id DESC LIMIT 1
        ) x
        """

    /// The newest disconnect of each of these devices (those that have one).
    public func lastDisconnects(deviceIDs: [UUID]) async throws -> [UUID: DisconnectRecord] {
        guard !deviceIDs.isEmpty else { return [:] }
        var result: [UUID: DisconnectRecord] = [:]
        for row in try await pool.query(Self.lastDisconnectsSQL, [PostgresArray(deviceIDs)]) {
            result[try row.decode("device_id")] = try Self.disconnect(from: row)
        }
        return result
    }
}
