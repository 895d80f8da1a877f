import DevicePool
import Foundation
import Logging
import NIOPosix
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WAClient
import WASim
import WAWire

/// Fleet-wide single ownership, proved against the simulator over loopback with the real client:
/// two supervisors on one database, devices moving between them when one dies and when one stops,
/// and the simulator never sees two connections of one device at once — nor a second pairing.
@Suite("Fleet: two supervisors against the simulator", .requiresDatabase, .timeLimit(.minutes(2)))
struct FleetOwnershipTests {
    private static let logger = Logger(label: "pairgate.tests.fleet")
    private static let deviceCount = 3

    @Test func devicesMoveBetweenInstancesOnACrashAndAStopWithOneConnectionEach() async throws {
        var configuration = SimConfiguration()
        configuration.server.port = 0
        configuration.control.port = 0
        configuration.threads = 1
        let simulator = try Simulator(configuration: configuration, logger: Self.logger)
        let endpoints = try await simulator.start()
        var client = ClientConfiguration()
        client.upstreamURL = endpoints.webSocketURL
        client.session.trustedRootKey = simulator.rootKey.publicKey
        let upstream = UpstreamClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: client, logger: Self.logger)
        defer { Task { await simulator.shutdown() } }

        try await withPoolDatabase { pool, tenant in
            let store = PostgresDeviceStore(pool: pool)
            let events = EventBus()
            func supervisor(_ instance: String) -> Supervisor {
                var pool = PoolConfiguration(instanceID: instance, webVersion: "\(client.webVersion)")
                pool.rampPerSecond = 1000
                pool.claimInterval = .milliseconds(100)
                // The devices move on crashes and stops here, not to balance the two.
                pool.handoversPerMinute = 0
                return Supervisor(configuration: pool, store: store, connector: upstream, sealer: PoolHarness.sealer, events: events, logger: Self.logger)
            }
            func owners() async throws -> [String?] {
                try await pool.query("SELECT lease_owner FROM devices WHERE state = 'online' ORDER BY id").map { try $0.decode(0) }
            }

            // Instance a pairs three devices by QR: the simulated phone scans each QR.
            let a = supervisor("a")
            let aRunning = Task { try await a.run() }
            let devices = try await withThrowingTaskGroup(of: Void.self, returning: [UUID].self) { group in
                var devices: [UUID] = []
                for _ in 0..<Self.deviceCount {
                    let ticket = try await a.startPairing(tenantID: tenant, method: .qr)
                    var updates = events.pairings.watch(ticket.pairingID, deadline: ticket.deadline).updates.makeAsyncIterator()
                    guard case .qr(let qr, _) = await updates.next() else {
                        Issue.record("no QR")
                        throw CancellationError()
                    }
                    _ = try await simulator.scan(qr: qr)
                    devices.append(ticket.deviceID)
                    try await eventually("device online on a") { try await store.device(ticket.deviceID)?.state == .online }
                }
                #expect(try await owners() == Array(repeating: "a", count: Self.deviceCount))

                // Instance b starts on the same database: it finds nothing to claim.
                let b = supervisor("b")
                group.addTask { try await b.run() }
                try await eventually("b looked for devices") { b.ownedDevices.isEmpty && a.ownedDevices.count == Self.deviceCount }

                // a dies (its task is cancelled: no graceful shutdown, nothing released). Its
                // connections close with it; once its leases have run out, b takes every device.
                // (The lease TTL is 30 s; the test ends the leases instead of waiting.)
                aRunning.cancel()
                _ = await aRunning.result
                try await eventually("a's connections closed") { simulator.stats.snapshot().liveDevices == 0 }
                try await pool.query("UPDATE devices SET lease_expires_at = now() - interval '1 second'")
                // (The database says online from a's time until b's state changes land, so the
                // simulator's logins are what show b really connected.)
                try await eventually("b took every device") {
                    let stats = simulator.stats.snapshot()
                    let owners = try await owners()
                    return stats.logins >= Self.deviceCount * 2 && stats.liveDevices == Self.deviceCount
                        && owners == Array(repeating: "b", count: Self.deviceCount)
                }

                // a comes back as a new process; b stops gracefully and releases its leases: the
                // devices move back to a at once, without waiting for any lease to expire.
                let a2 = supervisor("a2")
                group.addTask { try await a2.run() }
                b.shutdown()
                try await eventually("a2 took every device") {
                    let stats = simulator.stats.snapshot()
                    let owners = try await owners()
                    return stats.logins >= Self.deviceCount * 3 && stats.liveDevices == Self.deviceCount
                        && owners == Array(repeating: "a2", count: Self.deviceCount)
                }
                a2.shutdown()
                try await group.waitForAll()
                return devices
            }

            let stats = simulator.stats.snapshot()
            #expect(stats.maxConcurrentPerDevice == 1, "devices over one connection: \(stats.devicesOverOne)")
            #expect(stats.pairingsCompleted == Self.deviceCount, "no device needed a second scan")
            #expect(stats.logins >= Self.deviceCount * 3, "each device logged in on a, b and a2")
            #expect(stats.violationCount == 0, "\(stats.violations)")

            // Every persisted transition is one the state machine allows, and no pairing is open.
            let transitions: [(String, String)] = try await pool.query(
                "SELECT from_state, to_state FROM state_transitions"
            ).map { (try $0.decode(0), try $0.decode(1)) }
            #expect(transitions.count >= devices.count * 8)
            for (from, to) in transitions {
                let allowed = DeviceState.Kind(rawValue: from).flatMap { from in
                    DeviceState.Kind(rawValue: to).map { DeviceStateMachine.allows(from: from, to: $0) }
                }
                #expect(allowed == true, "\(from) → \(to)")
            }
            let open: Int64 = try await pool.query("SELECT count(*) FROM pairing_sessions WHERE ended_at IS NULL")[0].decode(0)
            #expect(open == 0)
        }
    }
}
