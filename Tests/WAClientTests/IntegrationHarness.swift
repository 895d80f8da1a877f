import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// The simulator's server on 127.0.0.1 (WebSocket server, connection shells, a `SimWorld`) with keys of
/// its own, and clients configured to trust it with short timings. Faults for new connections and the
/// upgrade answer can be set per test.
final class LoopbackSimulator: Sendable {
    let group: MultiThreadedEventLoopGroup
    let world: SimWorld
    let server: SimServer
    let root: Curve25519KeyPair
    let certificates: SimCertificates?
    private let nextFaults = Setting(SimConnectionFaults())
    private let upgrade = Setting(SimServer.UpgradeDecision.accept)

    private init(tls: Bool, configure: (inout SimConnectionMachine.Configuration) -> Void) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        root = Curve25519KeyPair.generate()
        let intermediate = Curve25519KeyPair.generate()
        let staticKey = Curve25519KeyPair.generate()
        let now = UInt64(Date().timeIntervalSince1970)
        let chain = CertificateChain.issue(
            rootKey: root, intermediateKey: intermediate, serverStaticKey: staticKey.publicKey,
            notBefore: now - 3600, notAfter: now + 3600
        )
        var configuration = SimConnectionMachine.Configuration(staticKey: staticKey, certificateChain: chain)
        configure(&configuration)
        let nextFaults = nextFaults
        let world = SimWorld(planFaults: { _ in nextFaults.value })
        self.world = world
        certificates = tls ? try SimCertificates.generate() : nil
        let upgrade = upgrade
        let serverConfiguration = configuration
        server = SimServer(
            configuration: SimServer.Configuration(tls: try certificates?.makeServerContext()),
            eventLoopGroup: group,
            logger: Logger(label: "sim"),
            decide: { _ in upgrade.value },
            connectionHandler: { channel in
                try SimConnectionHandler.install(on: channel, world: world, configuration: serverConfiguration)
            }
        )
    }

    /// Runs `body` with a started simulator and tears it down afterwards.
    static func with(
        tls: Bool = false,
        configure: (inout SimConnectionMachine.Configuration) -> Void = { _ in },
        _ body: (LoopbackSimulator) async throws -> Void
    ) async throws {
        let simulator = try LoopbackSimulator(tls: tls, configure: configure)
        try await simulator.server.start()
        do {
            try await body(simulator)
        } catch {
            await simulator.shutdown()
            throw error
        }
        await simulator.shutdown()
    }

    private func shutdown() async {
        await server.stop()
        try? await group.shutdownGracefully()
    }

    /// Faults every connection opened from now on gets.
    func setFaults(_ faults: SimConnectionFaults) {
        nextFaults.value = faults
    }

    func setUpgrade(_ decision: SimServer.UpgradeDecision) {
        upgrade.value = decision
    }

    func addAccount(phoneNumber: String = "15551234567") -> SimAccount {
        var random = SystemRandomNumberGenerator()
        let account = SimAccount.generate(phoneNumber: phoneNumber, using: &random)
        world.addAccount(account)
        return account
    }

    /// A client that trusts this simulator, with timings short enough for tests.
    func client(_ configure: (inout ClientConfiguration) -> Void = { _ in }) throws -> UpstreamClient {
        var configuration = ClientConfiguration()
        configuration.upstreamURL = try #require(server.url)
        configuration.trustedRootKey = root.publicKey
        configuration.timeouts.connect = .seconds(5)
        configuration.timeouts.handshake = .seconds(5)
        if let certificates {
            configuration.tls = try ClientTLS(trustRoots: .pem(Array(certificates.caPEM.utf8)))
        }
        configure(&configuration)
        return UpstreamClient(eventLoopGroup: group, configuration: configuration, logger: Logger(label: "client"))
    }

    /// Pairs a new device by QR (accepting pair-success at once) and returns its credentials after the 515.
    func pairedCredentials(_ client: UpstreamClient, account: SimAccount) async throws -> DeviceCredentials {
        let events = EventLog(client.connect(credentials: .generate(), intent: .pair(.qr)))
        let qr = try #require(await events.nextQR())
        try world.scan(qr, phoneNumber: account.phoneNumber)
        let credentials = try #require(await events.acceptPairSuccess())
        let ending = try #require(await events.ending())
        #expect(ending.category == .restartRequired)
        return credentials
    }

    /// The connection logged in as the device of `credentials`, for deliveries.
    func connectionID(of credentials: DeviceCredentials) throws -> SimConnectionID {
        let jid = try #require(credentials.account.flatMap { JID(parsing: $0.jid) })
        return try #require(world.loggedInConnections(of: jid).last)
    }
}

/// A value the test changes while the simulator's closures read it.
final class Setting<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) {
        storage = Mutex(value)
    }

    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}

/// Reads one connection's events in order, remembering them all.
final class EventLog: @unchecked Sendable {
    private var iterator: UpstreamEvents.AsyncIterator
    private(set) var events: [ClientEvent] = []
    let connection: UpstreamConnection

    init(_ opened: (connection: UpstreamConnection, events: UpstreamEvents)) {
        connection = opened.connection
        iterator = opened.events.makeAsyncIterator()
    }

    /// The next event, or nil once the stream ended.
    func next() async -> ClientEvent? {
        let event = await iterator.next()
        if let event {
            events.append(event)
        }
        return event
    }

    /// Reads until `match` finds something; nil if the stream ends first.
    func first<Value>(_ match: (ClientEvent) -> Value?) async -> Value? {
        while let event = await next() {
            if let value = match(event) {
                return value
            }
        }
        return nil
    }

    func nextQR() async -> String? {
        await first { if case .qr(let code, _) = $0 { code } else { nil } }
    }

    func nextPairingCode() async -> String? {
        await first { if case .pairingCode(let code, _) = $0 { code } else { nil } }
    }

    /// Accepts pair-success as a pool would after persisting, and returns the credentials.
    func acceptPairSuccess() async -> DeviceCredentials? {
        await first { event in
            guard case .pairSuccess(let credentials, let confirmation) = event else {
                return nil
            }
            confirmation.accept()
            return credentials
        }
    }

    func online() async -> OnlineInfo? {
        await first { if case .online(let info) = $0 { info } else { nil } }
    }

    /// The terminal reason (`.disconnected` or `.loggedOut`), after reading everything before it.
    func ending() async -> DisconnectReason? {
        await first { event in
            switch event {
            case .disconnected(let reason), .loggedOut(let reason): reason
            default: nil
            }
        }
    }

    var names: [String] {
        events.map { event in
            switch event {
            case .qr: "qr"
            case .pairingCode: "pairingCode"
            case .pairSuccess: "pairSuccess"
            case .paired: "paired"
            case .online: "online"
            case .credentialsUpdated: "credentialsUpdated"
            case .stanza: "stanza"
            case .keepaliveLost: "keepaliveLost"
            case .keepaliveRestored: "keepaliveRestored"
            case .disconnected: "disconnected"
            case .loggedOut: "loggedOut"
            }
        }
    }
}
