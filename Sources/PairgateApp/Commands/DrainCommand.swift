import AdminAPI
import ArgumentParser
import DevicePool
import Foundation
import PostgresStore
import WAWire

/// `pairgate drain`: asks a running instance, through the fleet bus (NOTIFY over the database
/// every instance listens on), to hand every device to its peers, and waits until it holds none.
/// Meant for a rolling deploy's pre-stop step; the SIGTERM that follows then finds nothing to move.
struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Hand every device of a running instance to its peers, and wait until it holds none."
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The instance to drain (default: this configuration's instance.id, as in a pre-stop hook).")
    var instance: String?

    @Option(help: "Seconds to wait for the instance to hold no device; 0 returns once asked.")
    var waitSeconds = 120

    @Flag(help: "Drain even when no live peer would take the devices (they are then only released).")
    var force = false

    func run() async throws {
        let configuration = try await options.load()
        let target = instance ?? configuration.instanceID
        let liveness = PoolConfiguration(instanceID: target, webVersion: configuration.upstream.webVersion).instanceLiveness
        try await DatabaseRuntime.with(configuration, label: "pairgate.drain") { runtime in
            let store = PostgresDeviceStore(pool: runtime.pool)
            let fleet = try await store.fleetLoad(liveness: liveness)
            guard let held = fleet.instances.first(where: { $0.id == target }) else {
                let live = fleet.instances.map(\.id).joined(separator: ", ")
                throw DrainFailed("instance \(target) is not live (no heartbeat in the last \(HumanDuration.format(liveness))); live instances: \(live.isEmpty ? "none" : live)")
            }
            let peers = fleet.instances.filter { $0.id != target && !$0.draining }
            if peers.isEmpty, !force {
                throw DrainFailed("instance \(target) has no live peer to take its \(held.devices) devices; stop it instead, or pass --force")
            }
            try await FleetBus.requestDrain(of: target, pool: runtime.pool)
            print("asked \(target) to hand its \(held.devices) devices to \(peers.map(\.id).joined(separator: ", "))")
            guard waitSeconds > 0 else { return }
            let deadline = ContinuousClock.now + .seconds(waitSeconds)
            var last = held.devices
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .seconds(1))
                let now = try await store.fleetLoad(liveness: liveness)
                guard let current = now.instances.first(where: { $0.id == target }) else {
                    print("\(target) stopped")
                    return
                }
                if current.devices == 0 {
                    print("\(target) holds no device")
                    return
                }
                if current.devices != last {
                    print("\(target) still holds \(current.devices) devices")
                    last = current.devices
                }
            }
            throw DrainFailed("\(target) still holds \(last) devices after \(waitSeconds) s")
        }
    }
}

/// Printed by ArgumentParser as `Error: …` with exit status 1.
private struct DrainFailed: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
