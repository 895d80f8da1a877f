import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import WAClient
import WAWire
@testable import WASim
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// How much memory `pairgate sim` needs per logged-in connection: a real `pairgate sim` process is
/// seeded with N linked devices, N real client connections log in over loopback, and the process's
/// resident memory is read from /proc before and after.
///
/// A measurement, not a regression test: it runs only with PAIRGATE_SIM_SCALE=<connections> (and
/// PAIRGATE_BINARY=<path to pairgate>, default .build/release/pairgate), and prints its figures.
@Suite("Simulator at scale", .enabled(if: ProcessInfo.processInfo.environment["PAIRGATE_SIM_SCALE"] != nil))
struct SimScaleTests {
    /// Device numbers are one byte on the wire (AD JIDs), so an account has at most 255 companions.
    private static let devicesPerAccount = 200

    @Test func holdsManyLoggedInConnections() async throws {
        let environment = ProcessInfo.processInfo.environment
        let count = Int(environment["PAIRGATE_SIM_SCALE"] ?? "") ?? 2000
        let binary = environment["PAIRGATE_BINARY"] ?? ".build/release/pairgate"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sim-scale-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let devices = try Self.seed(count: count, statePath: directory.appendingPathComponent("state.json").path)
        let simulator = try SimProcess(binary: binary, directory: directory)
        defer { simulator.stop() }
        let idle = try simulator.residentBytes()

        var configuration = ClientConfiguration()
        configuration.upstreamURL = simulator.webSocketURL
        configuration.session.trustedRootKey = simulator.rootPublicKey
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = UpstreamClient(eventLoopGroup: group, configuration: configuration, logger: Logger(label: "sim-scale"))

        let started = ContinuousClock.now
        var connections: [UpstreamConnection] = []
        connections.reserveCapacity(count)
        // Batches keep the handshakes in flight bounded, as a gateway's ramp would.
        for batch in stride(from: 0, to: count, by: 250) {
            let opened = devices[batch..<min(count, batch + 250)].map { client.connect(credentials: $0, intent: .login) }
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for (_, events) in opened {
                    tasks.addTask {
                        for await event in events {
                            switch event {
                            case .online: return
                            case .disconnected(let reason), .loggedOut(let reason): throw ScaleError.ended("\(reason)")
                            default: continue
                            }
                        }
                        throw ScaleError.ended("events ended")
                    }
                }
                try await tasks.waitForAll()
            }
            connections += opened.map(\.connection)
        }
        let rampSeconds = Double((ContinuousClock.now - started).components.seconds)

        try await Task.sleep(for: .seconds(3))
        let loaded = try simulator.residentBytes()
        let stats = try await simulator.stats()
        let perConnection = Double(loaded - idle) / Double(count)
        print("""
            sim scale: \(count) logged-in connections in \(rampSeconds) s; \
            RSS idle \(idle / 1024) KiB, loaded \(loaded / 1024) KiB, \
            \(String(format: "%.1f", perConnection / 1024)) KiB per connection; \
            liveDevices \(stats.liveDevices), maxConcurrentPerDevice \(stats.maxConcurrentPerDevice), violations \(stats.violationCount)
            """)
        #expect(stats.liveDevices == count)
        #expect(stats.maxConcurrentPerDevice == 1)
        #expect(stats.violationCount == 0)

        for connection in connections {
            await connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: "scale test over"))
        }
        try await group.shutdownGracefully()
    }

    enum ScaleError: Error {
        case ended(String)
        case simulator(String)
    }

    /// Writes a state file with `count` linked devices and returns their credentials, already paired.
    private static func seed(count: Int, statePath: String) throws -> [DeviceCredentials] {
        var rng = SystemRandomNumberGenerator()
        var accounts: [SimAccount] = []
        var linked: [SimLinkedDevice] = []
        var credentials: [DeviceCredentials] = []
        for index in 0..<count {
            let accountIndex = index / devicesPerAccount
            if accounts.count == accountIndex {
                accounts.append(SimAccount.generate(phoneNumber: String(15_550_000_000 + accountIndex), using: &rng))
            }
            let account = accounts[accountIndex]
            let deviceID = UInt16(index % devicesPerAccount + 1)
            var device = DeviceCredentials.generate()
            let noise = try Curve25519KeyPair(privateKey: device.noiseKey)
            let identity = try Curve25519KeyPair(privateKey: device.identityKey)
            let record = SimLinkedDevice(
                phoneNumber: account.phoneNumber, deviceID: deviceID, lidUser: account.lidUser,
                noisePublicKey: noise.publicKey, identityPublicKey: identity.publicKey,
                registrationID: device.registrationID, keyIndex: 1, linkedAt: Date(), os: "scale",
                // Enough prekeys on the server that no login uploads more.
                uploadedPreKeys: 812
            )
            device.account = PairedAccount(
                jid: record.jid.description, lid: record.lid.description, platform: "android", businessName: nil,
                signedIdentity: [], keyIndex: 1
            )
            linked.append(record)
            credentials.append(device)
        }
        for index in accounts.indices {
            accounts[index].nextDeviceID = UInt16(devicesPerAccount + 1)
        }
        try StateFile(path: statePath).save { SimWorld.Snapshot(accounts: accounts, devices: linked) }
        return credentials
    }
}

/// `pairgate sim` as a child process on free ports, with its printed endpoints.
private final class SimProcess {
    let process = Process()
    let webSocketURL: String
    let controlURL: String
    let rootPublicKey: [UInt8]

    init(binary: String, directory: URL) throws {
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "sim", "--port", "0", "--control-port", "0", "--log-level", ProcessInfo.processInfo.environment["PAIRGATE_SIM_LOG_LEVEL"] ?? "warning",
            "--state", directory.appendingPathComponent("state.json").path,
            "--root-key", directory.appendingPathComponent("root.key").path,
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var text = ""
        while !text.contains("root public key:") || !text.hasSuffix("\n") {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw SimScaleTests.ScaleError.simulator("pairgate sim exited: \(text)") }
            text += String(decoding: chunk, as: UTF8.self)
        }
        func field(_ label: String) -> String {
            text.split(separator: "\n").first { $0.contains(label) }.map { $0.split(separator: " ").last.map(String.init) ?? "" } ?? ""
        }
        webSocketURL = field("WebSocket:")
        controlURL = field("control and phone:")
        rootPublicKey = Hex.decode(field("root public key:")) ?? []
    }

    /// VmRSS of the process, from /proc.
    func residentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { throw SimScaleTests.ScaleError.simulator("no VmRSS") }
        return kilobytes * 1024
    }

    func stats() async throws -> SimStatsSnapshot {
        let (data, _) = try await URLSession.shared.data(from: try #require(URL(string: controlURL + "/stats")))
        return try JSONDecoder.simState.decode(SimStatsSnapshot.self, from: data)
    }

    func stop() {
        process.interrupt()
        process.waitUntilExit()
    }
}
