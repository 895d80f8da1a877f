import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// Resident memory per idle logged-in connection on both sides of a `wss://` socket: a `pairgate sim --tls`
/// child process seeded with N linked devices, and N `UpstreamClient` connections in this process sharing
/// one TLS context. Each side's VmRSS is read from /proc before and after.
///
/// A measurement, not a regression test: it runs only with PAIRGATE_TRANSPORT_SCALE=<connections> (and
/// PAIRGATE_BINARY=<path to pairgate>, default .build/debug/pairgate), and prints its figures.
@Suite("Transport memory at scale", .enabled(if: ProcessInfo.processInfo.environment["PAIRGATE_TRANSPORT_SCALE"] != nil))
struct TransportScaleTests {
    @Test func idleTLSConnectionsCostLittleOnBothSides() async throws {
        let environment = ProcessInfo.processInfo.environment
        let count = Int(environment["PAIRGATE_TRANSPORT_SCALE"] ?? "") ?? 2000
        let binary = environment["PAIRGATE_BINARY"] ?? ".build/debug/pairgate"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("transport-scale-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let devices = try Self.seed(count: count, statePath: directory.appendingPathComponent("state.json").path)
        let simulator = Process()
        simulator.executableURL = URL(fileURLWithPath: binary)
        simulator.arguments = [
            "sim", "--tls", "--tls-ca-file", directory.appendingPathComponent("ca.pem").path,
            "--port", "0", "--control-port", "0", "--log-level", "warning",
            "--state", directory.appendingPathComponent("state.json").path,
            "--root-key", directory.appendingPathComponent("root.key").path,
        ]
        let output = Pipe()
        simulator.standardOutput = output
        try simulator.run()
        defer {
            simulator.interrupt()
            simulator.waitUntilExit()
        }
        var banner = ""
        while !banner.contains("TLS test CA:") || !banner.hasSuffix("\n") {
            let chunk = output.fileHandleForReading.availableData
            try #require(!chunk.isEmpty, "pairgate sim exited: \(banner)")
            banner += String(decoding: chunk, as: UTF8.self)
        }
        func field(_ label: String) -> String {
            banner.split(separator: "\n").first { $0.contains(label) }?.split(separator: " ").last.map(String.init) ?? ""
        }

        var configuration = ClientConfiguration()
        configuration.upstreamURL = field("WebSocket:")
        configuration.trustedRootKey = try #require(Self.bytes(hex: field("root public key:")))
        configuration.tls = try ClientTLS(trustRoots: .pemFile(directory.appendingPathComponent("ca.pem").path))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = UpstreamClient(eventLoopGroup: group, configuration: configuration, logger: Logger(label: "scale"))

        // One connection first, so that the one-off costs (TLS context, code pages) are in the baseline.
        var connections = [try await Self.online(client, devices[0])]
        let clientBefore = try Self.residentBytes(of: "self")
        let serverBefore = try Self.residentBytes(of: "\(simulator.processIdentifier)")
        for batch in stride(from: 1, to: count, by: 200) {
            let opened = try await withThrowingTaskGroup(of: UpstreamConnection.self) { tasks in
                for device in devices[batch..<min(count, batch + 200)] {
                    tasks.addTask { try await Self.online(client, device) }
                }
                return try await tasks.reduce(into: []) { $0.append($1) }
            }
            connections += opened
        }
        try await Task.sleep(for: .seconds(2))
        let clientAfter = try Self.residentBytes(of: "self")
        let serverAfter = try Self.residentBytes(of: "\(simulator.processIdentifier)")
        let added = Double(count - 1)
        print("""
            transport scale: \(count) idle logged-in wss connections; \
            client RSS \(clientBefore / 1024) → \(clientAfter / 1024) KiB = \
            \(String(format: "%.1f", Double(clientAfter - clientBefore) / added / 1024)) KiB per connection; \
            server RSS \(serverBefore / 1024) → \(serverAfter / 1024) KiB = \
            \(String(format: "%.1f", Double(serverAfter - serverBefore) / added / 1024)) KiB per connection
            """)
        for connection in connections {
            await connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: "measurement over"))
        }
        try await group.shutdownGracefully()
    }

    /// Connects `device` and returns once it is online.
    private static func online(_ client: UpstreamClient, _ device: DeviceCredentials) async throws -> UpstreamConnection {
        let (connection, events) = client.connect(credentials: device, intent: .login)
        for await event in events {
            switch event {
            case .online:
                return connection
            case .disconnected(let reason), .loggedOut(let reason):
                throw ScaleFailure(reason: reason)
            default:
                continue
            }
        }
        throw ScaleFailure(reason: nil)
    }

    struct ScaleFailure: Error {
        let reason: DisconnectReason?
    }

    /// VmRSS of `/proc/<process>`.
    private static func residentBytes(of process: String) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return try #require(Int(line.split(separator: " ").dropFirst().first ?? "")) * 1024
    }

    /// Linked devices in a state file, with enough prekeys on the server that no login uploads more.
    private static func seed(count: Int, statePath: String) throws -> [DeviceCredentials] {
        var random = SystemRandomNumberGenerator()
        var accounts: [SimAccount] = []
        var linked: [SimLinkedDevice] = []
        var credentials: [DeviceCredentials] = []
        for index in 0..<count {
            // Device numbers are one byte on the wire; 200 companions per account stay below it.
            if accounts.count == index / 200 {
                accounts.append(SimAccount.generate(phoneNumber: String(15_560_000_000 + index / 200), using: &random))
            }
            let account = accounts[index / 200]
            var device = DeviceCredentials.generate()
            let record = SimLinkedDevice(
                phoneNumber: account.phoneNumber, deviceID: UInt16(index % 200 + 1), lidUser: account.lidUser,
                noisePublicKey: try Curve25519KeyPair(privateKey: device.noiseKey).publicKey,
                identityPublicKey: try Curve25519KeyPair(privateKey: device.identityKey).publicKey,
                registrationID: device.registrationID, keyIndex: 1, linkedAt: Date(), os: "scale", uploadedPreKeys: 812
            )
            device.account = PairedAccount(
                jid: record.jid.description, lid: record.lid.description, platform: "android", businessName: nil,
                signedIdentity: [], keyIndex: 1
            )
            linked.append(record)
            credentials.append(device)
        }
        for index in accounts.indices {
            accounts[index].nextDeviceID = 201
        }
        try StateFile(path: statePath).save { SimWorld.Snapshot(accounts: accounts, devices: linked) }
        return credentials
    }

    private static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else {
            return nil
        }
        return stride(from: 0, to: 64, by: 2).compactMap { UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16) }
    }
}
