import DevicePool
import FleetHarness
import Foundation
import Logging
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WASim

/// kill -9 of a real `pairgate serve` while one device is online and another is pairing (issue 5,
/// crash safety): after a restart the paired device is online again with its stored credentials
/// (no new scan), the unfinished pairing ends as `interrupted`, no history row is lost, and the
/// tenant can pair again.
@Suite("Crash safety: kill -9 of a gateway", .requiresDatabase, .timeLimit(.minutes(3)))
struct CrashSafetyTests {
    private static let logger = Logger(label: "pairgate.tests.crash")

    /// The `pairgate` executable built next to this test bundle (`swift build --build-tests`).
    private static var executable: String? {
        guard let bundle = try? GatewayProcess.currentExecutable() else { return nil }
        let path = URL(fileURLWithPath: bundle).deletingLastPathComponent().appending(path: "pairgate").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    @Test func aGatewayKilledMidPairingAndOnlineLosesNothing() async throws {
        let executable = try #require(Self.executable, "build the pairgate product first (swift build --build-tests builds it)")
        var simulatorConfiguration = SimConfiguration()
        simulatorConfiguration.server.port = 0
        simulatorConfiguration.control.port = 0
        simulatorConfiguration.threads = 1
        let simulator = try Simulator(configuration: simulatorConfiguration, logger: Self.logger)
        let endpoints = try await simulator.start()
        let work = TestEnvironment.scratchDirectory + "/crash-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)

        do {
            try await TestDatabase.with { database in
                let pool = database.pool()
                try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
                let configuration = GatewayProcess.Configuration(
                    databaseURL: database.url, upstreamURL: endpoints.webSocketURL, upstreamRootKey: simulator.rootPublicKeyHex,
                    masterKey: MasterKey.generate(id: "crash"), adminToken: "crash-admin-\(UUID().uuidString)",
                    linkKey: Data((0..<32).map { UInt8($0) }).base64EncodedString()
                )
                let first = try await GatewayProcess.start(
                    instanceID: "crash-a", configuration: configuration, workDirectory: work, executable: executable
                )
                let api = GatewayClient(baseURL: first.baseURL, adminToken: configuration.adminToken)
                let tenant = try await api.createTenant(name: "Crash", host: "crash.localhost")

                // One device paired and online, then a second pairing showing its QR.
                let paired = try #require(try await api.pairByQR(tenant, phone: simulatorConfiguration.defaultPhone, simulator: simulator))
                try await eventually("the paired device online", limit: .seconds(60), pause: .milliseconds(20)) { try await state(pool, paired.deviceID) == "online" }
                let pending = try #require(try await api.pairQR(tenant))
                #expect(pending.qr != nil)
                let historyBefore = try await historyCount(pool)

                // kill -9: nothing released, nothing announced.
                _ = await first.kill()
                try await eventually("the simulator saw the connection go", limit: .seconds(60), pause: .milliseconds(20)) { simulator.stats.snapshot().liveDevices == 0 }
                #expect(try await state(pool, paired.deviceID) == "online", "what the dead instance left behind")

                // Time passes: the lease and the pairing's deadline run out (instead of waiting 30 s
                // and 3 minutes). The next instance claims the device and ends the pairing.
                try await pool.query("UPDATE devices SET lease_expires_at = now() - interval '1 second'")
                try await pool.query("UPDATE pairing_sessions SET deadline = now() - interval '1 second' WHERE ended_at IS NULL")
                let second = try await GatewayProcess.start(
                    instanceID: "crash-b", configuration: configuration, workDirectory: work, executable: executable
                )
                let api2 = GatewayClient(baseURL: second.baseURL, adminToken: configuration.adminToken)
                try await eventually("the paired device online on the new instance", limit: .seconds(60), pause: .milliseconds(20)) {
                    let row = try await pool.query("SELECT state, lease_owner FROM devices WHERE id = $1", [paired.deviceID])
                    return try row.first.map { try $0.decode(0, as: String.self) == "online" && $0.decode(1, as: String?.self) == "crash-b" } ?? false
                }
                try await eventually("the pairing ended", limit: .seconds(60), pause: .milliseconds(20)) {
                    let open: Int64 = try await pool.query("SELECT count(*) FROM pairing_sessions WHERE ended_at IS NULL")[0].decode(0)
                    return open == 0
                }
                let outcome: String = try await pool.query(
                    "SELECT outcome FROM pairing_sessions WHERE id = $1", [try #require(UUID(uuidString: pending.pairingID))]
                )[0].decode(0)
                #expect(outcome == "interrupted")

                let stats = simulator.stats.snapshot()
                #expect(stats.pairingsCompleted == 1, "no second scan")
                #expect(stats.maxConcurrentPerDevice == 1)
                #expect(try await historyCount(pool) >= historyBefore, "no history row lost")
                let transitions: [(String, String)] = try await pool.query("SELECT from_state, to_state FROM state_transitions").map {
                    (try $0.decode(0), try $0.decode(1))
                }
                for (from, to) in transitions {
                    let allowed = DeviceState.Kind(rawValue: from).flatMap { from in
                        DeviceState.Kind(rawValue: to).map { DeviceStateMachine.allows(from: from, to: $0) }
                    }
                    #expect(allowed == true, "\(from) → \(to)")
                }
                // The tenant's pairing lock is free again.
                #expect(try await api2.pairQR(tenant) != nil)
                #expect(await second.terminate() == 0)
                await pool.close()
            }
        } catch {
            await simulator.shutdown()
            throw error
        }
        await simulator.shutdown()
        try? FileManager.default.removeItem(atPath: work)
    }

    private func state(_ pool: PostgresPool, _ device: UUID) async throws -> String? {
        try await pool.query("SELECT state FROM devices WHERE id = $1", [device]).first?.decode(0)
    }

    private func historyCount(_ pool: PostgresPool) async throws -> Int64 {
        try await pool.query("SELECT count(*) FROM state_transitions")[0].decode(0)
    }

}
