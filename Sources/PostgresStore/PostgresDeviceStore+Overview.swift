import DevicePool
import Foundation
import PostgresClient
import WAWire

/// The whole fleet at one look, for the admin page: who holds leases, each tenant's devices by
/// state, the recent disconnects by category, and the pairings in progress.
public struct FleetOverview: Sendable, Hashable {
    /// An instance as its leases show it.
    public struct Instance: Sendable, Hashable {
        public var id: String
        /// Devices whose live lease it holds.
        public var devices: Int
        /// The latest expiry among them: its last renewal plus the lease TTL.
        public var leasesUntil: Date
    }

    public struct Tenant: Sendable, Hashable {
        public var id: UUID
        public var name: String
        public var disabled: Bool
        public var devices: [DeviceState.Kind: Int]
        /// Of those, stopped by the tenant.
        public var stopped: Int
    }

    public struct Pairing: Sendable, Hashable {
        public var id: UUID
        public var tenantID: UUID
        public var tenantName: String
        public var deviceID: UUID
        public var method: PairingMethodKind
        public var instance: String
        public var startedAt: Date
        public var deadline: Date
        public var codesShown: Int
    }

    public var instances: [Instance]
    public var tenants: [Tenant]
    /// Disconnects within the window asked for, by category.
    public var disconnects: [String: Int]
    public var pairings: [Pairing]
}

extension PostgresDeviceStore {
    /// The fleet now; `window` bounds the disconnects counted. One read-only snapshot on one
    /// connection, so the figures agree with each other and a page costs the pool one connection.
    public func fleetOverview(disconnectsWithin window: Duration) async throws -> FleetOverview {
        try await pool.withTransaction { connection in
            try connection.execute(script: "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            let instances = try connection.query("""
                SELECT lease_owner, count(*)::bigint, max(lease_expires_at)
                FROM devices WHERE lease_owner IS NOT NULL AND lease_expires_at > now()
                GROUP BY lease_owner ORDER BY lease_owner
                """).map { row in
                FleetOverview.Instance(id: try row.decode(0), devices: try row.decode(1), leasesUntil: try row.decode(2))
            }
            var tenants: [FleetOverview.Tenant] = []
            for row in try connection.query("""
                SELECT t.id, t.name, t.disabled_at IS NOT NULL AS disabled, d.state, count(d.id)::bigint AS devices,
                       count(d.id) FILTER (WHERE d.desired_state = 'stopped')::bigint AS stopped
                FROM tenants t LEFT JOIN devices d ON d.tenant_id = t.id
                GROUP BY t.id, t.name, t.disabled_at, d.state
                ORDER BY t.name, t.id
                """) {
                let id: UUID = try row.decode("id")
                if tenants.last?.id != id {
                    tenants.append(FleetOverview.Tenant(id: id, name: try row.decode("name"), disabled: try row.decode("disabled"), devices: [:], stopped: 0))
                }
                guard let state = try row.decode("state", as: String?.self).flatMap(DeviceState.Kind.init(rawValue:)) else { continue }
                tenants[tenants.count - 1].devices[state] = try row.decode("devices")
                tenants[tenants.count - 1].stopped += try row.decode("stopped", as: Int.self)
            }
            var disconnects: [String: Int] = [:]
            for row in try connection.query(
                "SELECT category, count(*)::bigint FROM disconnects WHERE at > now() - make_interval(secs => $1) GROUP BY category",
                [window.seconds]
            ) {
                disconnects[try row.decode(0)] = try row.decode(1)
            }
            let pairings = try connection.query("""
                SELECT p.id, p.tenant_id, t.name, p.device_id, p.method, p.instance, p.started_at, p.deadline, p.qr_count
                FROM pairing_sessions p JOIN tenants t ON t.id = p.tenant_id
                WHERE p.ended_at IS NULL ORDER BY p.started_at, p.id
                """).map { row in
                FleetOverview.Pairing(
                    id: try row.decode(0), tenantID: try row.decode(1), tenantName: try row.decode(2), deviceID: try row.decode(3),
                    method: PairingMethodKind(rawValue: try row.decode(4)) ?? .qr, instance: try row.decode(5),
                    startedAt: try row.decode(6), deadline: try row.decode(7), codesShown: try row.decode(8)
                )
            }
            return FleetOverview(instances: instances, tenants: tenants, disconnects: disconnects, pairings: pairings)
        }
    }
}
