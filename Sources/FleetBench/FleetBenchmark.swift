import DevicePool
import FleetHarness
import Foundation
import Logging
import NIOPosix
import PostgresClient
import PostgresStore
import Synchronization
import WAClient
import WASim
import WAWire

#if canImport(Glibc)
import Glibc
#endif

/// `pairgate bench fleet`: N devices paired through the simulator's protocol and online in one
/// `pairgate serve` child; its resident memory per device, its CPU while idle, and how long it
/// takes to bring every device back after a restart at the configured ramp.
public enum FleetBenchmark {
    public struct Options: Sendable {
        public var devices = 10_000
        public var tenants = 100
        public var idleSeconds = 60.0
        /// Devices started per second by the restarted gateway; nil: its default.
        public var rampPerSecond: Int?
        /// Messages a simulated contact sends every device after the restart, before memory is measured:
        /// each device then has a Signal session and inbox rows (messaging on). 0: none.
        public var messagesPerDevice = 1
        /// The `pairgate` executable to spawn; nil: this one.
        public var executable: String?
        public var workDirectory: String
        public init(workDirectory: String) { self.workDirectory = workDirectory }
    }

    public struct Result: Sendable, Codable, CustomStringConvertible {
        public var devices: Int
        public var tenants: Int
        public var rampPerSecond: Int?
        public var pairingSeconds: Double
        public var rssEmptyMiB: Double
        public var rssAfterPairingMiB: Double
        public var rssRestartedOnlineMiB: Double
        /// (RSS of the restarted gateway with every device online − RSS with none) ÷ devices.
        public var kibPerDevice: Double
        public var messagesPerDevice: Int
        /// From the first send until the simulator had every copy answered.
        public var messagesAnsweredSeconds: Double
        public var idleSeconds: Double
        public var idleCPUPercentOfOneCore: Double
        public var shutdownSeconds: Double
        public var restartReadySeconds: Double
        /// From spawning the new process until the simulator has every device logged in.
        public var restartAllOnlineSeconds: Double
        public var maxConcurrentPerDevice: Int
        public var violations: Int
        public var budgets: [String: Bool] {
            [
                "memory ≤ 64 KiB per device": kibPerDevice <= 64,
                "memory ≤ 48 KiB per device with messaging": messagesPerDevice > 0 && kibPerDevice <= 48,
                "idle CPU ≤ 5 % of one core": idleCPUPercentOfOneCore <= 5,
                "all online ≤ 60 s after a restart": restartAllOnlineSeconds <= 60,
            ]
        }

        public var description: String {
            let ramp = rampPerSecond.map { "\($0)/s" } ?? "the default"
            let messaging = messagesPerDevice == 0 ? "; messaging off"
                : "; after \(messagesPerDevice) received message(s) per device (all answered in \(f1(messagesAnsweredSeconds)) s), "
                    + "second-stage budget ≤ 48 KiB: \(kibPerDevice <= 48 ? "met" : "MISSED")"
            return """
            fleet: \(devices) devices of \(tenants) tenants in one `pairgate serve` child, simulator in this process
              pairing all through the simulator: \(f1(pairingSeconds)) s (\(Int(Double(devices) / max(pairingSeconds, 0.001))) pairings/s)
              gateway RSS: \(f1(rssEmptyMiB)) MiB with 0 devices, \(f1(rssAfterPairingMiB)) MiB after pairing \(devices), \
            \(f1(rssRestartedOnlineMiB)) MiB restarted with \(devices) online
              memory per online device: \(f1(kibPerDevice)) KiB — budget ≤ 64 KiB: \(kibPerDevice <= 64 ? "met" : "MISSED")\(messaging)
              idle CPU (keepalives, leases), \(Int(idleSeconds)) s: \(String(format: "%.2f", idleCPUPercentOfOneCore)) % of one core — budget ≤ 5 %: \
            \(idleCPUPercentOfOneCore <= 5 ? "met" : "MISSED")
              restart (ramp \(ramp)): SIGTERM → exit \(f1(shutdownSeconds)) s; spawn → ready \(f1(restartReadySeconds)) s; \
            spawn → all \(devices) online \(f1(restartAllOnlineSeconds)) s — budget ≤ 60 s: \(restartAllOnlineSeconds <= 60 ? "met" : "MISSED")
              simulator: max concurrent connections per device \(maxConcurrentPerDevice), protocol violations \(violations)
            """
        }

        func f1(_ value: Double) -> String { String(format: "%.1f", value) }
    }

    public static func run(_ options: Options, logger: Logger) async throws -> Result {
        try FileManager.default.createDirectory(atPath: options.workDirectory, withIntermediateDirectories: true)
        let cluster = try await PostgresCluster.start(in: options.workDirectory)
        do {
            let result = try await run(options, cluster: cluster, logger: logger)
            await cluster.destroy()
            return result
        } catch {
            await cluster.destroy()
            throw error
        }
    }

    static func run(_ options: Options, cluster: PostgresCluster, logger: Logger) async throws -> Result {
        let threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        defer { threadPool.shutdownGracefully { _ in } }
        let migrationPool = PostgresPool(configuration: .init(url: cluster.url), threadPool: threadPool, logger: logger)
        try await PairgateSchema.migrator(pool: migrationPool, logger: logger).migrate()
        await migrationPool.close()

        var simConfiguration = SimConfiguration()
        simConfiguration.server.port = 0
        simConfiguration.control.port = 0
        let simulator = try Simulator(configuration: simConfiguration, logger: logger)
        let endpoints = try await simulator.start()
        do {
            let result = try await run(options, cluster: cluster, simulator: simulator, endpoints: endpoints)
            await simulator.shutdown()
            return result
        } catch {
            await simulator.shutdown()
            throw error
        }
    }

    static func run(_ options: Options, cluster: PostgresCluster, simulator: Simulator, endpoints: Simulator.Endpoints) async throws -> Result {

        let adminToken = "bench-admin-token-0123456789abcdef"
        var configuration = GatewayProcess.Configuration(
            databaseURL: cluster.url, upstreamURL: endpoints.webSocketURL, upstreamRootKey: simulator.rootPublicKeyHex,
            masterKey: MasterKey.generate(id: "bench"), adminToken: adminToken, linkKey: Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        )
        configuration.extraEnvironment = [
            "PAIRGATE_HTTP_PAIR_RATE_PER_MINUTE": "100000",
            "PAIRGATE_HTTP_PAIR_BURST": "10000",
        ]
        if let ramp = options.rampPerSecond { configuration.extraEnvironment["PAIRGATE_POOL_RAMP_PER_SECOND"] = String(ramp) }

        // 1. A gateway with no devices: the baseline.
        let first = try await GatewayProcess.start(
            instanceID: "bench-fleet-1", configuration: configuration, workDirectory: options.workDirectory, executable: options.executable
        )
        var second: GatewayProcess?
        do {
            try await Task.sleep(for: .seconds(3))
            let empty = try await usage(first)

            // 2. Pair every device through the API and the simulated phones.
            let api = BenchAPIClient(baseURL: first.baseURL, adminToken: adminToken)
            var tenants: [BenchAPIClient.Tenant] = []
            for index in 0..<options.tenants {
                tenants.append(try await api.createTenant(name: "Fleet \(index)", host: "f\(index).bench.example"))
            }
            let pairingStart = ContinuousClock.now
            let progress = Progress(total: options.devices)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, tenant) in tenants.enumerated() {
                    let count = options.devices / options.tenants + (index < options.devices % options.tenants ? 1 : 0)
                    // One phone per tenant, scanning one QR at a time: at most 255 devices per phone.
                    let phone = String(format: "4470%08d", index)
                    group.addTask {
                        for _ in 0..<count {
                            _ = try await api.pairDevice(tenant) { qr in _ = try await simulator.scan(qr: qr, phone: phone) }
                            progress.step()
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await waitUntil(options.devices, online: simulator, limit: .seconds(300))
            let pairingSeconds = (ContinuousClock.now - pairingStart).seconds
            try await api.shutdown()
            try await Task.sleep(for: .seconds(5))
            let afterPairing = try await usage(first)

            // 3. Restart: SIGTERM (devices close, leases released), a new process claims them all.
            let stopStart = ContinuousClock.now
            await first.terminate(grace: .seconds(60))
            let shutdownSeconds = (ContinuousClock.now - stopStart).seconds
            try await waitUntil(0, online: simulator, limit: .seconds(60))
            let spawn = ContinuousClock.now
            second = try await GatewayProcess.start(
                instanceID: "bench-fleet-2", configuration: configuration, workDirectory: options.workDirectory, executable: options.executable
            )
            guard let restarted = second else { throw BenchError("no restarted gateway") }
            let readySeconds = (ContinuousClock.now - spawn).seconds
            try await waitUntil(options.devices, online: simulator, limit: .seconds(600))
            let allOnlineSeconds = (ContinuousClock.now - spawn).seconds
            print("all \(options.devices) online \(String(format: "%.1f", allOnlineSeconds)) s after the restart; settling before measuring")

            // 4. Messaging on: a contact writes to every account; every linked device decrypts, stores
            // and receipts its copies (sessions loaded on demand, none kept while idle).
            let messagingStart = ContinuousClock.now
            if options.messagesPerDevice > 0 {
                let contact = try simulator.contact("15559990000", name: "Bench contact").phoneNumber
                for round in 0..<options.messagesPerDevice {
                    for index in 0..<options.tenants {
                        _ = try simulator.send(from: contact, to: String(format: "4470%08d", index), text: "bench message \(round)")
                    }
                }
                let deadline = ContinuousClock.now + .seconds(600)
                while simulator.statsSnapshot().stanzasPending > 0 {
                    guard ContinuousClock.now < deadline else { throw BenchError("the devices did not answer every message within 10 min") }
                    try await Task.sleep(for: .milliseconds(100))
                }
                print("every copy of \(options.messagesPerDevice * options.devices) answered in \(String(format: "%.1f", (ContinuousClock.now - messagingStart).seconds)) s")
            }
            let messagesAnsweredSeconds = (ContinuousClock.now - messagingStart).seconds

            // 5. Idle: settle, then memory and CPU over the idle window.
            try await Task.sleep(for: .seconds(15))
            let before = try await usage(restarted)
            try await Task.sleep(for: .seconds(options.idleSeconds))
            let after = try await usage(restarted)
            let idleCPU = (after.cpuSeconds - before.cpuSeconds) / options.idleSeconds * 100
            let online = Double(max(before.residentBytes, after.residentBytes))

            let stats = simulator.stats.snapshot()
            await restarted.terminate(grace: .seconds(60))
            return Result(
                devices: options.devices, tenants: options.tenants, rampPerSecond: options.rampPerSecond,
                pairingSeconds: pairingSeconds,
                rssEmptyMiB: Double(empty.residentBytes) / 1_048_576,
                rssAfterPairingMiB: Double(afterPairing.residentBytes) / 1_048_576,
                rssRestartedOnlineMiB: online / 1_048_576,
                kibPerDevice: (online - Double(empty.residentBytes)) / 1024 / Double(options.devices),
                messagesPerDevice: options.messagesPerDevice, messagesAnsweredSeconds: messagesAnsweredSeconds,
                idleSeconds: options.idleSeconds, idleCPUPercentOfOneCore: idleCPU,
                shutdownSeconds: shutdownSeconds, restartReadySeconds: readySeconds, restartAllOnlineSeconds: allOnlineSeconds,
                maxConcurrentPerDevice: stats.maxConcurrentPerDevice, violations: stats.violationCount
            )
        } catch {
            await first.kill()
            if let second { await second.kill() }
            throw error
        }
    }

    static func usage(_ gateway: GatewayProcess) async throws -> ProcessUsage {
        guard let usage = await gateway.usage() else { throw BenchError("gateway \(gateway.instanceID) exited (see \(gateway.process.logPath))") }
        return usage
    }

    /// Waits until the simulator has exactly `count` devices logged in.
    static func waitUntil(_ count: Int, online simulator: Simulator, limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if simulator.stats.snapshot().liveDevices == count { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("the simulator did not see \(count) devices online within \(limit) (it sees \(simulator.stats.snapshot().liveDevices))")
    }
}

/// Prints how far a long pairing run is, every tenth.
final class Progress: Sendable {
    private let total: Int
    private let done = Mutex(0)
    private let start = ContinuousClock.now

    init(total: Int) { self.total = total }

    func step() {
        let count = done.withLock { value in
            value += 1
            return value
        }
        if count % max(1, total / 10) == 0 {
            print("  paired \(count) of \(total) (\(String(format: "%.1f", (ContinuousClock.now - start).seconds)) s)")
        }
    }
}
