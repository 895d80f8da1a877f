import DevicePool
import FleetHarness
import Foundation
import Logging
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing
import WASim

/// kill -9 of a real `pairgate serve` between the write of a message and the server's ack (issue 12,
/// "Messages out": the contact still gets the message exactly once). The simulator withholds the
/// ack and the contact's receipt (`withhold_ack`), so the window is certain: the contact has read
/// the message, the gateway still holds it `queued`. The next instance sends it again with the same WhatsApp id, which the
/// contact recognises; the send log shows each write under its own instance's lease.
@Suite("Crash safety: kill -9 between a send and its ack", .requiresDatabase, .timeLimit(.minutes(3)))
struct SendCrashTests {
    private static let logger = Logger(label: "pairgate.tests.send-crash")

    private static var executable: String? {
        guard let bundle = try? GatewayProcess.currentExecutable() else { return nil }
        let path = URL(fileURLWithPath: bundle).deletingLastPathComponent().appending(path: "pairgate").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    @Test func aMessageWhoseAckNeverCameBeforeTheKillReachesItsContactOnce() async throws {
        let executable = try #require(Self.executable, "build the pairgate product first (swift build --build-tests builds it)")
        var simulatorConfiguration = SimConfiguration()
        simulatorConfiguration.server.port = 0
        simulatorConfiguration.control.port = 0
        simulatorConfiguration.threads = 1
        let simulator = try Simulator(configuration: simulatorConfiguration, logger: Self.logger)
        let endpoints = try await simulator.start()
        // No read receipt: the one status that follows the resend is `delivered`.
        let contact = try simulator.contact("15559000001", name: "Crash contact", readsMessages: false).phoneNumber
        let work = TestEnvironment.scratchDirectory + "/send-crash-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)

        do {
            try await TestDatabase.with { database in
                let pool = database.pool()
                try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
                let configuration = GatewayProcess.Configuration(
                    databaseURL: database.url, upstreamURL: endpoints.webSocketURL, upstreamRootKey: simulator.rootPublicKeyHex,
                    masterKey: MasterKey.generate(id: "send-crash"), adminToken: "send-crash-admin-\(UUID().uuidString)",
                    linkKey: Data((0..<32).map { UInt8($0) }).base64EncodedString()
                )
                let first = try await GatewayProcess.start(
                    instanceID: "send-a", configuration: configuration, workDirectory: work, executable: executable
                )
                let api = GatewayClient(baseURL: first.baseURL, adminToken: configuration.adminToken)
                let tenant = try await api.createTenant(name: "Send crash", host: "send-crash.localhost")
                let paired = try #require(try await api.pairByQR(tenant, phone: simulatorConfiguration.defaultPhone, simulator: simulator))
                try await eventually("the paired device online", limit: .seconds(60), pause: .milliseconds(20)) {
                    try await status(pool, device: paired.deviceID) == "online"
                }

                // The server will read the next message and route it, but never ack it.
                try simulator.faults.arm(ArmedFault(kind: .withholdAck, device: paired.jid))
                let reply = try await api.sendMessage(tenant, deviceID: paired.deviceID, to: "+" + contact, text: "once")
                #expect(reply.status == 202)
                let waID = try #require(reply.json["wa_id"] as? String)
                try await eventually("the contact read it", limit: .seconds(60), pause: .milliseconds(20)) {
                    simulator.stats.arrivals().contains { $0.id == waID && $0.contact == contact && $0.outcome == .received }
                }
                #expect(try await outbound(pool, waID)?.status == "queued", "no ack came: the gateway still holds it")

                // kill -9 in the window; the next instance takes the device over (its lease made to run out).
                _ = await first.kill()
                try await eventually("the simulator saw the connection go", limit: .seconds(60), pause: .milliseconds(20)) {
                    simulator.stats.snapshot().liveDevices == 0
                }
                try await pool.query("UPDATE devices SET lease_expires_at = now() - interval '1 second'")
                let second = try await GatewayProcess.start(
                    instanceID: "send-b", configuration: configuration, workDirectory: work, executable: executable
                )
                // The held receipt may mark it delivered first; the server's ack of the resend comes after the contact read it.
                try await eventually("the resend acked and the receipt recorded", limit: .seconds(60), pause: .milliseconds(50)) {
                    let acked: Date? = try await pool.query("SELECT acked_at FROM messages WHERE wa_id = $1", [waID]).first?.decode(0)
                    let status = try await outbound(pool, waID)?.status ?? ""
                    return acked != nil && ["delivered", "read"].contains(status)
                }

                let arrivals = simulator.stats.arrivals().filter { $0.id == waID && $0.contact == contact }
                #expect(arrivals.filter { $0.outcome == .received }.count == 1, "read as a new message once")
                #expect(arrivals.filter { $0.outcome == .duplicate }.count == 1, "the resend carried the same id, which the contact had")
                let attempts = try await FleetInvariants.sendAttempts(pool).filter { $0.waID == waID }.sorted { $0.attempt < $1.attempt }
                #expect(attempts.map(\.instance) == ["send-a", "send-b"])
                #expect(attempts.count == 2 && attempts[0].epoch < attempts[1].epoch)
                #expect(try await outbound(pool, waID)?.attempts == 2)

                // The chaos run's checks agree.
                let all = simulator.stats.arrivals()
                let lease = FleetInvariants.sentUnderLease(
                    arrivals: all, attempts: try await FleetInvariants.sendAttempts(pool), holders: try await FleetInvariants.epochHolders(pool)
                )
                #expect(lease.passed, "\(lease.line)")
                let accepted = FleetInvariants.AcceptedSend(
                    id: try #require(reply.json["id"] as? String), waID: waID, deviceID: paired.deviceID, device: paired.jid, recipient: contact, key: "-"
                )
                var run = FleetInvariants.RunRecord()
                run.kept = [.init(deviceID: paired.deviceID, jid: paired.jid)]
                let once = FleetInvariants.sendsExactlyOnce(
                    load: .init(requests: 1, accepted: [accepted], refused: [:], unclear: [], queuedByKey: [:]),
                    outbound: try await FleetInvariants.outboundRows(pool), arrivals: all, run: run
                )
                #expect(once.passed, "\(once.line)")
                #expect(simulator.stats.snapshot().maxConcurrentPerDevice == 1)
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

    private func status(_ pool: PostgresPool, device: UUID) async throws -> String? {
        try await pool.query("SELECT state FROM devices WHERE id = $1", [device]).first?.decode(0)
    }

    private func outbound(_ pool: PostgresPool, _ waID: String) async throws -> FleetInvariants.OutboundRow? {
        try await FleetInvariants.outboundRows(pool)[waID]
    }
}
