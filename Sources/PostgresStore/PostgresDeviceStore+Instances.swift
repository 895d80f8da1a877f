import DevicePool
import Foundation
import PostgresClient
import WAWire

/// The instance registry behind rebalancing (`instances`): heartbeats and the fleet's load.
extension PostgresDeviceStore {
    public func heartbeat(instance: String, capacity: Int, draining: Bool) async throws {
        try await pool.query("""
            INSERT INTO instances (id, capacity, draining) VALUES ($1, $2, $3)
            ON CONFLICT (id) DO UPDATE SET capacity = EXCLUDED.capacity, draining = EXCLUDED.draining, heartbeat_at = now()
            """, [instance, capacity, draining])
        // Instances restart under new ids (pairgate chaos, crash loops): the dead ones' rows go.
        try await pool.query("DELETE FROM instances WHERE heartbeat_at < now() - interval '1 day'")
    }

    public func fleetLoad(liveness: Duration) async throws -> FleetLoad {
        let owners = try await pool.query("""
            SELECT lease_owner, count(*) FROM devices
            WHERE lease_owner IS NOT NULL AND lease_expires_at > now()
            GROUP BY lease_owner
            """).map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self)) }
        let held = Dictionary(owners, uniquingKeysWith: +)
        let instances = try await pool.query("""
            SELECT id, capacity, draining FROM instances
            WHERE heartbeat_at > now() - make_interval(secs => $1)
            ORDER BY id
            """, [liveness.seconds]).map { row in
            let id: String = try row.decode(0)
            return FleetLoad.Instance(id: id, capacity: try row.decode(1), devices: held[id] ?? 0, draining: try row.decode(2))
        }
        return FleetLoad(instances: instances, devices: held.values.reduce(0, +))
    }
}
