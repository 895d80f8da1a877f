import DevicePool
import Testing

/// The fair share each live instance owes the fleet, and where an instance's excess goes.
@Suite("Rebalancing: fair shares")
struct FairShareTests {
    private func fleet(_ instances: [FleetLoad.Instance], devices: Int? = nil) -> FleetLoad {
        FleetLoad(instances: instances, devices: devices ?? instances.reduce(0) { $0 + $1.devices })
    }

    @Test func sharesFollowCapacityAndADrainingInstanceOwesNothing() {
        let load = fleet([
            .init(id: "a", capacity: 2000, devices: 1000),
            .init(id: "b", capacity: 1000, devices: 0),
            .init(id: "c", capacity: 1000, devices: 0, draining: true),
        ])
        #expect(load.share(of: "a") == 2000.0 / 3)
        #expect(load.share(of: "b") == 1000.0 / 3)
        #expect(load.share(of: "c") == 0)
        #expect(load.share(of: "gone") == 0)
        #expect(load.target(of: "a") == 667)
        #expect(load.excess(of: "a") == 333)
        #expect(load.excess(of: "b") == 0)
    }

    @Test func aFleetAtItsRoundedUpSharesMovesNothing() {
        // 1,000 over three: targets 334 each, so 334/333/333 has no excess anywhere.
        let load = fleet([.init(id: "a", capacity: 1, devices: 334), .init(id: "b", capacity: 1, devices: 333), .init(id: "c", capacity: 1, devices: 333)])
        for id in ["a", "b", "c"] { #expect(load.excess(of: id) == 0) }
        #expect(load.destinations(for: 5, from: "a") == ["b": 1, "c": 1])
    }

    @Test func theExcessGoesToThePeersWithTheMostRoomFirst() {
        let load = fleet([
            .init(id: "a", capacity: 1, devices: 1000),
            .init(id: "b", capacity: 1, devices: 300),
            .init(id: "c", capacity: 1, devices: 0),
        ])
        // Targets: 434 each. b has 134 places, c 434.
        #expect(load.deficits(excluding: "a").map(\.instance) == ["c", "b"])
        #expect(load.destinations(for: 100, from: "a") == ["c": 100])
        // Once both have as much room left, they take turns.
        #expect(load.destinations(for: 400, from: "a") == ["c": 350, "b": 50])
        // Never more than the room there is, unless the devices must go (a drain).
        #expect(load.destinations(for: 1000, from: "a").values.reduce(0, +) == 568)
        let drained = load.destinations(for: 1000, from: "a", fill: true)
        #expect(drained.values.reduce(0, +) == 1000)
        #expect(drained["a"] == nil)
    }

    @Test func devicesOfDeadInstancesCountTowardTheShares() {
        // 900 live leases, 300 of them still held by an instance whose heartbeat stopped.
        let load = fleet([.init(id: "a", capacity: 1, devices: 600), .init(id: "b", capacity: 1, devices: 0)], devices: 900)
        #expect(load.target(of: "a") == 450)
        #expect(load.excess(of: "a") == 150)
    }

    @Test func aDrainWithoutPeersPlansNothing() {
        let load = fleet([.init(id: "a", capacity: 1, devices: 10, draining: true)])
        #expect(load.destinations(for: 10, from: "a", fill: true).isEmpty)
        #expect(load.excess(of: "a") == 10)
    }
}
