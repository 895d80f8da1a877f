/// Each live instance's fair share of the live devices, weighted by capacity, and where the
/// excess of one instance goes. Pure: the rebalancing loop feeds it what it read.
extension FleetLoad {
    /// The capacity of the instances that take devices (live, not draining).
    private var activeCapacity: Int {
        instances.filter { !$0.draining }.reduce(0) { $0 + max($1.capacity, 0) }
    }

    /// `id`'s fair share of `devices`: proportional to its capacity among the instances that
    /// take devices; zero for a draining or unknown instance.
    public func share(of id: String) -> Double {
        guard let instance = instances.first(where: { $0.id == id }), !instance.draining, activeCapacity > 0 else { return 0 }
        return Double(devices) * Double(max(instance.capacity, 0)) / Double(activeCapacity)
    }

    /// The most devices `id` should hold: its share rounded up, so that the shares' sum covers
    /// every device and a fleet at its shares moves nothing.
    public func target(of id: String) -> Int {
        Int(share(of: id).rounded(.up))
    }

    /// How many of its devices `id` holds beyond its target.
    public func excess(of id: String) -> Int {
        guard let instance = instances.first(where: { $0.id == id }) else { return 0 }
        return max(0, instance.devices - target(of: id))
    }

    /// How many devices each other instance can take before it reaches its target, largest
    /// first (ties by id, so every instance orders them alike).
    public func deficits(excluding id: String) -> [(instance: String, room: Int)] {
        instances
            .filter { $0.id != id && !$0.draining }
            .map { (instance: $0.id, room: target(of: $0.id) - $0.devices) }
            .filter { $0.room > 0 }
            .sorted { $0.room != $1.room ? $0.room > $1.room : $0.instance < $1.instance }
    }

    /// Where `count` devices handed away by `id` go: each to the instance with the most room
    /// left, as long as any has room; for a drain (`fill`), the rest spread over the instances
    /// that take devices by capacity even when they are at their targets. Returns how many go
    /// to each; fewer than `count` in all when nobody has room and `fill` is false.
    public func destinations(for count: Int, from id: String, fill: Bool = false) -> [String: Int] {
        var room = Dictionary(uniqueKeysWithValues: deficits(excluding: id).map { ($0.instance, $0.room) })
        var placed: [String: Int] = [:]
        for _ in 0..<max(count, 0) {
            guard let best = room.filter({ $0.value > 0 }).max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }) else { break }
            room[best.key, default: 0] -= 1
            placed[best.key, default: 0] += 1
        }
        let left = count - placed.values.reduce(0, +)
        guard fill, left > 0 else { return placed }
        let takers = instances.filter { $0.id != id && !$0.draining && $0.capacity > 0 }.sorted { $0.id < $1.id }
        let capacity = takers.reduce(0) { $0 + $1.capacity }
        guard capacity > 0 else { return placed }
        // Largest remainders: each taker gets its capacity's part of what is left, rounded so the parts add up.
        let parts = takers.map { (id: $0.id, exact: Double(left) * Double($0.capacity) / Double(capacity)) }
        var given = parts.map { Int($0.exact.rounded(.down)) }
        let remainders = parts.indices.sorted { parts[$0].exact - Double(given[$0]) > parts[$1].exact - Double(given[$1]) }
        for index in remainders.prefix(left - given.reduce(0, +)) { given[index] += 1 }
        for (index, part) in parts.enumerated() where given[index] > 0 { placed[part.id, default: 0] += given[index] }
        return placed
    }
}
