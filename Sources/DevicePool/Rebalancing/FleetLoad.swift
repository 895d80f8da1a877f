/// The fleet as one rebalancing round reads it: the live instances (by heartbeat), their
/// capacities and the live leases each holds, and every live lease in the fleet.
public struct FleetLoad: Sendable, Hashable {
    /// One live instance.
    public struct Instance: Sendable, Hashable {
        public var id: String
        /// `pool.max_devices`: its weight in the fair share.
        public var capacity: Int
        /// Devices whose live lease it holds.
        public var devices: Int
        /// It is handing its devices away: its share is zero and it takes none.
        public var draining: Bool

        public init(id: String, capacity: Int, devices: Int, draining: Bool = false) {
            self.id = id
            self.capacity = capacity
            self.devices = devices
            self.draining = draining
        }
    }

    public var instances: [Instance]
    /// Every device with a live lease, whoever holds it (an instance whose heartbeat stopped
    /// still holds its leases until they expire; its devices come back to the live ones).
    public var devices: Int

    public init(instances: [Instance], devices: Int) {
        self.instances = instances
        self.devices = devices
    }
}
