import DevicePool
import Foundation
import PostgresClient

/// A device as its tenant manages it: what the pool knows, and the tenant's settings.
public struct ManagedDevice: Sendable, Hashable {
    public var record: DeviceRecord
    public var labels: [String: String]
    /// The device's own proxy as `scheme://host:port`; never its credentials.
    public var proxyEndpoint: String?
    public var createdAt: Date
    /// Where a listing continues after this device.
    public var position: DevicePosition
}

/// A place in a tenant's devices, oldest first: the creation time in microseconds (exact, as
/// PostgreSQL stores it) and the id that breaks ties.
public struct DevicePosition: Sendable, Hashable {
    public var createdMicroseconds: Int64
    public var id: UUID

    public init(createdMicroseconds: Int64, id: UUID) {
        self.createdMicroseconds = createdMicroseconds
        self.id = id
    }
}

/// Which devices a listing shows; every part that is given must match.
public struct DeviceFilter: Sendable, Hashable {
    /// Any of these states; empty: any state.
    public var states: Set<DeviceState.Kind> = []
    public var desiredState: DesiredState?
    /// Every one of these labels, with these values.
    public var labels: [String: String] = [:]

    public init(states: Set<DeviceState.Kind> = [], desiredState: DesiredState? = nil, labels: [String: String] = [:]) {
        self.states = states
        self.desiredState = desiredState
        self.labels = labels
    }
}

/// A change of a device's settings; nil parts stay as they are.
public struct DeviceSettingsChange: Sendable {
    public enum Field<Value: Sendable>: Sendable {
        case set(Value)
        case clear
    }

    public var name: Field<String>?
    /// Removes every label before `labels` is applied.
    public var clearLabels = false
    /// Set these labels; a nil value removes the label.
    public var labels: [String: String?] = [:]
    public var proxy: Field<ProxySetting>?

    public init() {}
}

/// A device's own proxy as stored: the sealed URL and the endpoint shown without credentials.
public struct ProxySetting: Sendable {
    public var sealed: SealedCredential
    public var endpoint: String

    public init(sealed: SealedCredential, endpoint: String) {
        self.sealed = sealed
        self.endpoint = endpoint
    }
}

/// What became of a request to change a device's desired state.
public enum DesiredStateChange: Sendable, Hashable {
    case changed(DeviceRecord)
    case notFound
    /// A pairing is running for the device: it cannot be stopped (cancel it with a reset).
    case pairing
}

/// What became of a request to delete a device.
public enum DeviceDeletion: Sendable, Hashable {
    case deleted
    case notFound
    /// The device has credentials again (it was paired meanwhile), or a pairing is running.
    case inUse
}

extension PostgresDeviceStore {
    static let managedColumns = "\(deviceColumns), d.labels::text AS labels, d.proxy_endpoint, d.created_at, "
        + "(extract(epoch FROM d.created_at) * 1000000)::bigint AS created_us"

    static func managedDevice(from row: PostgresRow) throws -> ManagedDevice {
        let labelsText: String = try row.decode("labels")
        guard let labels = try? JSONDecoder().decode([String: String].self, from: Data(labelsText.utf8)) else {
            throw PostgresError(.decoding, detail: "the labels of a device are not an object of strings")
        }
        let record = try device(from: row)
        return ManagedDevice(
            record: record, labels: labels, proxyEndpoint: try row.decode("proxy_endpoint"), createdAt: try row.decode("created_at"),
            position: DevicePosition(createdMicroseconds: try row.decode("created_us"), id: record.id)
        )
    }

    /// One of the tenant's devices; nil for another tenant's device, as for a missing one.
    public func managedDevice(_ id: UUID, tenantID: UUID) async throws -> ManagedDevice? {
        try await pool.query(
            "SELECT \(Self.managedColumns) FROM devices d WHERE d.id = $1 AND d.tenant_id = $2", [id, tenantID]
        ).first.map(Self.managedDevice(from:))
    }

    /// A page of the tenant's devices matching `filter`, oldest first, after `position`.
    public func managedDevices(tenantID: UUID, filter: DeviceFilter, after position: DevicePosition?, limit: Int) async throws -> [ManagedDevice] {
        let labels = String(decoding: try JSONEncoder().encode(filter.labels), as: UTF8.self)
        return try await pool.query("""
            SELECT \(Self.managedColumns) FROM devices d
            WHERE d.tenant_id = $1
              AND (cardinality($2::text[]) = 0 OR d.state = ANY($2::text[]))
              AND ($3::text IS NULL OR d.desired_state = $3::text)
              AND d.labels @> $4::jsonb
              AND ($5::bigint IS NULL
                   OR (d.created_at, d.id) > (timestamptz 'epoch' + $5::bigint * interval '1 microsecond', $6::uuid))
            ORDER BY d.created_at, d.id
            LIMIT $7
            """, [tenantID, PostgresArray(filter.states.map(\.rawValue).sorted()), filter.desiredState?.rawValue, labels,
                  position?.createdMicroseconds, position?.id, Int64(limit)]
        ).map(Self.managedDevice(from:))
    }

    /// Sets what the tenant wants of a device. Stopping a device whose pairing runs is refused;
    /// starting one never is.
    public func setDesiredState(_ desired: DesiredState, deviceID: UUID, tenantID: UUID) async throws -> DesiredStateChange {
        let rows = try await pool.query("""
            UPDATE devices d SET desired_state = $3
            WHERE d.id = $1 AND d.tenant_id = $2 AND ($3 = 'running' OR d.state <> 'pairing')
            RETURNING \(Self.deviceColumns)
            """, [deviceID, tenantID, desired.rawValue])
        if let row = rows.first { return .changed(try Self.device(from: row)) }
        return try await managedDevice(deviceID, tenantID: tenantID) == nil ? .notFound : .pairing
    }

    /// Changes a device's name, labels and proxy in one transaction; false when the tenant has
    /// no such device. Refuses (`tooManyLabels`) a change that leaves more than `maximumLabels`.
    public func changeSettings(_ change: DeviceSettingsChange, deviceID: UUID, tenantID: UUID, maximumLabels: Int) async throws -> Bool {
        try await pool.withTransaction { connection in
            let rows = try connection.query(
                "SELECT labels::text FROM devices WHERE id = $1 AND tenant_id = $2 FOR UPDATE", [deviceID, tenantID]
            )
            guard let row = rows.first else { return false }
            let stored: String = try row.decode(0)
            var labels = change.clearLabels ? [:] : (try? JSONDecoder().decode([String: String].self, from: Data(stored.utf8))) ?? [:]
            for (key, value) in change.labels {
                labels[key] = value
            }
            guard labels.count <= maximumLabels else {
                throw StoreError(.tooManyLabels, "a device has at most \(maximumLabels) labels; this change leaves \(labels.count)")
            }
            let encoded = String(decoding: try JSONEncoder().encode(labels), as: UTF8.self)
            var name: String?
            if case .set(let value)? = change.name { name = value }
            var endpoint: String?
            if case .set(let setting)? = change.proxy { endpoint = setting.endpoint }
            try connection.query("""
                UPDATE devices SET labels = $3::jsonb,
                    name = CASE WHEN $4 THEN $5 ELSE name END,
                    proxy_endpoint = CASE WHEN $6 THEN $7 ELSE proxy_endpoint END
                WHERE id = $1 AND tenant_id = $2
                """, [deviceID, tenantID, encoded, change.name != nil, name, change.proxy != nil, endpoint])
            switch change.proxy {
            case .set(let setting)?:
                try connection.query("""
                    INSERT INTO device_credentials (device_id, kind, key_id, sealed) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (device_id, kind) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, updated_at = now()
                    """, [deviceID, DeviceProxy.credentialKind, setting.sealed.keyID, setting.sealed.bytes])
            case .clear?:
                try connection.query(
                    "DELETE FROM device_credentials WHERE device_id = $1 AND kind = $2", [deviceID, DeviceProxy.credentialKind]
                )
            case nil:
                break
            }
            return true
        }
    }

    /// Deletes a device that has no credentials any more (unpaired or logged out): its row, and
    /// by cascade its credentials, proxy, pairing sessions, protocol state and queued messages.
    /// Its history stays until retention removes it; a tombstone keeps whose it was.
    public func deleteDevice(_ deviceID: UUID, tenantID: UUID, instance: String) async throws -> DeviceDeletion {
        let rows = try await pool.query("""
            WITH gone AS (
                DELETE FROM devices WHERE id = $1 AND tenant_id = $2 AND state IN ('unpaired', 'logged_out')
                RETURNING id, tenant_id, name
            )
            INSERT INTO deleted_devices (id, tenant_id, name, instance)
            SELECT id, tenant_id, name, $3 FROM gone
            RETURNING id
            """, [deviceID, tenantID, instance])
        if !rows.isEmpty { return .deleted }
        return try await managedDevice(deviceID, tenantID: tenantID) == nil ? .notFound : .inUse
    }

    public func stoppedDevices(owner: String) async throws -> [UUID] {
        try await pool.query("""
            SELECT d.id FROM devices d
            WHERE d.desired_state = 'stopped' AND d.lease_owner = $1 AND d.lease_expires_at > now()
            """, [owner]).map { try $0.decode(0) }
    }
}
