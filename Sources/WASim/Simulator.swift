import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import WAWire

/// A local WhatsApp server with a simulated phone: the upstream of the demo, of tenants' CI and of
/// load tests. Start it, point clients at its WebSocket URL trusting `rootPublicKeyHex`, drive the phone
/// through the control API (or the methods here), read the stats, shut it down.
public final class Simulator: Sendable {
    /// Where a started simulator listens.
    public struct Endpoints: Sendable, Hashable {
        /// `ws://host:port/ws/chat` (or `wss://`).
        public var webSocketURL: String
        /// `http://host:port`: the control API and the phone's web page.
        public var controlURL: String
        /// With `tls`, the CA certificate (PEM) clients must trust for `wss://`.
        public var certificateAuthorityPEM: String?
    }

    public let configuration: SimConfiguration
    /// The root that signs the server's certificate chains; gateways must be told to trust its public key.
    public let rootKey: Curve25519KeyPair
    /// Accounts, linked devices, refs and live connections, shared by every connection.
    public let world: SimWorld
    public let stats: SimStats
    public let faults: FaultInjector
    /// What every connection machine is built with.
    public let machineConfiguration: SimConnectionMachine.Configuration
    let logger: Logger
    let stateFile: StateFile?
    let waiters = PairingWaiters()
    /// Refs already answered with companion_reg_refresh (`refreshOnScan`); also serialises account creation.
    let scanState = Mutex(ScanState())
    private let running = Mutex<Running?>(nil)

    struct ScanState {
        var refreshedRefs: Set<String> = []
    }

    private struct Running: Sendable {
        let group: ServiceGroup
        let task: Task<Void, any Error>
        let server: SimServer
        let eventLoopGroup: MultiThreadedEventLoopGroup
        let endpoints: Endpoints
    }

    /// Loads (or creates) the root key and the saved state, and creates the default phone; binds nothing yet.
    public init(configuration: SimConfiguration, logger: Logger = Logger(label: "pairgate.sim")) throws(SimulatorError) {
        self.configuration = configuration
        self.logger = logger
        rootKey = try configuration.rootKeyPath.map { path throws(SimulatorError) in try RootKeyFile.loadOrCreate(at: path) }
            ?? Curve25519KeyPair.generate()
        stateFile = configuration.statePath.map(StateFile.init(path:))
        let snapshot = try stateFile?.load() ?? SimWorld.Snapshot()
        let stats = SimStats()
        let faults = FaultInjector()
        // The world reports to the simulator, which does not exist yet: the observer reaches it through a box.
        let box = ObserverBox()
        world = SimWorld(
            snapshot: snapshot,
            observer: { event in box.simulator?.observe(event) },
            planFaults: { id in faults.planConnection(id) },
            planMessageFault: { device in
                let hit = faults.planMessage(device: device.description)
                if hit {
                    stats.faultInjected(.undecryptableMessage)
                }
                return hit
            },
            planSendFault: { device in faults.planSend(device: device.description) },
            readReceiptDelay: configuration.readReceiptDelay
        )
        self.stats = stats
        self.faults = faults
        machineConfiguration = Self.makeMachineConfiguration(configuration, rootKey: rootKey, now: Date())
        box.simulator = self
        for phone in [configuration.defaultPhone] + configuration.phones {
            try self.phone(phone)
        }
        if snapshot.signal != nil {
            // Resumed: from now on the sessions advance without being saved, so the file must not offer
            // them to the next start (SimSignalState).
            try saveState()
        }
    }

    /// The root public key as 64 hex characters, as printed and served.
    public var rootPublicKeyHex: String { Hex.encode(rootKey.publicKey) }

    /// The endpoints while running, nil otherwise.
    public var endpoints: Endpoints? { running.withLock { $0?.endpoints } }

    /// Binds the WebSocket server and the control API and returns once both accept connections
    /// (at once with the same endpoints when already started).
    public func start() async throws -> Endpoints {
        if let endpoints {
            return endpoints
        }
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        let certificates = try configuration.tls ? SimCertificates.generate(hosts: Self.certificateHosts(configuration.server.host)) : nil
        let server = SimServer(
            configuration: .init(
                host: configuration.server.host,
                port: configuration.server.port,
                tls: try certificates?.makeServerContext()
            ),
            eventLoopGroup: eventLoopGroup,
            logger: logger,
            connectionHandler: { [world, machineConfiguration] channel in
                try SimConnectionHandler.install(on: channel, world: world, configuration: machineConfiguration)
            }
        )
        do {
            try await server.start()
        } catch {
            try? await eventLoopGroup.shutdownGracefully()
            throw error
        }

        let controlPort = PortWaiter()
        let application = Application(
            router: ControlRoutes(simulator: self).router(),
            configuration: .init(
                address: .hostname(configuration.control.host, port: configuration.control.port),
                serverName: "pairgate-sim"
            ),
            onServerRunning: { channel in controlPort.resolve(.success(channel.localAddress?.port ?? 0)) },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        // The one unstructured task: start() returns while the control API keeps serving until shutdown().
        let task = Task {
            do {
                try await group.run()
            } catch {
                controlPort.resolve(.failure(error))
                throw error
            }
        }
        let port: Int
        do {
            port = try await controlPort.value()
        } catch {
            await server.stop()
            try? await eventLoopGroup.shutdownGracefully()
            throw error
        }
        let endpoints = Endpoints(
            webSocketURL: server.url ?? "",
            controlURL: "http://\(Self.urlHost(configuration.control.host)):\(port)",
            certificateAuthorityPEM: certificates?.caPEM
        )
        running.withLock { $0 = Running(group: group, task: task, server: server, eventLoopGroup: eventLoopGroup, endpoints: endpoints) }
        logger.info("simulator started", metadata: [
            "websocket": "\(endpoints.webSocketURL)", "control": "\(endpoints.controlURL)", "root": "\(rootPublicKeyHex)",
        ])
        return endpoints
    }

    /// Closes every server and connection; waits until they are gone, then saves the state with the
    /// senders' sessions, sender keys and queues, which the next start resumes.
    public func shutdown() async {
        guard let current = running.withLock({ state -> Running? in
            defer { state = nil }
            return state
        }) else { return }
        await current.group.triggerGracefulShutdown()
        _ = try? await current.task.value
        await current.server.stop()
        try? await current.eventLoopGroup.shutdownGracefully()
        do {
            try stateFile?.save { world.snapshot(includingSignal: true) }
        } catch {
            logger.error("cannot save the simulator state", metadata: ["error": "\(error)"])
        }
    }

    /// The connection machine's keys and timings: a fresh Noise static key, certified through a fresh
    /// intermediate by the root (clients pin the root, never the static key).
    static func makeMachineConfiguration(_ configuration: SimConfiguration, rootKey: Curve25519KeyPair, now: Date) -> SimConnectionMachine.Configuration {
        let staticKey = Curve25519KeyPair.generate()
        let seconds = UInt64(max(0, now.timeIntervalSince1970))
        let chain = CertificateChain.issue(
            rootKey: rootKey,
            intermediateKey: Curve25519KeyPair.generate(),
            serverStaticKey: staticKey.publicKey,
            notBefore: seconds - min(seconds, 3600),
            notAfter: seconds + UInt64(configuration.certificateValidity.components.seconds)
        )
        var machine = SimConnectionMachine.Configuration(staticKey: staticKey, certificateChain: chain)
        machine.refCount = configuration.refs.count
        machine.firstRefLifetime = configuration.refs.firstLifetime
        machine.laterRefLifetime = configuration.refs.laterLifetime
        machine.refreshRegistrationOnScan = configuration.refreshOnScan
        machine.ackDeadline = configuration.ackDeadline
        return machine
    }

    // MARK: Reacting to the world

    private func observe(_ event: SimWorldEvent) {
        stats.record(event)
        switch event {
        case .handshakeCompleted(let id, let isRegistration):
            faults.handshakeCompleted(id, isRegistration: isRegistration)
        case .connectionClosed(let id):
            faults.connectionClosed(id)
        case .loggedIn(let id, let device):
            if let peer = world.peer(of: id) {
                stats.loginCame(from: peer, device: device.description)
            }
            if let fault = faults.planLogin(id, device: device.description) {
                apply(fault, to: id, device: device)
            }
        case .paired(_, let device):
            persistAfterChange()
            waiters.paired(device)
        case .unlinked, .preKeysChanged:
            persistAfterChange()
        case .messageRead(let device, let contact, let outcome, let id, let connection, let at):
            stats.arrived(SimArrival(
                id: id, contact: contact, device: device.description, outcome: outcome, connection: connection.rawValue,
                peer: world.peer(of: connection), at: at
            ))
        case .messageRelayed(let device, let sibling, let id):
            stats.relayed(SimRelayedCopy(id: id, device: device.description, sibling: sibling.description))
        case .violation(let violation):
            if let phone = violation.device, !phone.contains("@") {
                waiters.violation(phone: phone, detail: "\(violation.kind): \(violation.detail)")
            }
        default:
            break
        }
    }

    /// Applies a login fault to the connections `device` has logged in right now (not to later ones);
    /// false when it has none.
    public func injectNow(_ kind: FaultKind, device: String, delay: Duration? = nil) throws(SimulatorError) -> Bool {
        guard kind.stage == .login else {
            throw SimulatorError(.deviceNotTargetable, detail: "\(kind.rawValue) is not a login fault; only login faults can hit a live connection")
        }
        guard let jid = JID(parsing: device), jid.server == .whatsApp else {
            throw SimulatorError(.unknownDevice, detail: "\(device) is not a device JID like 15550001234:3@s.whatsapp.net")
        }
        let connections = world.loggedInConnections(of: jid)
        let fault = InjectedFault(kind: kind, delay: delay ?? (kind == .slowKeepalive ? FaultInjector.defaultDelay(kind) : .zero))
        for id in connections {
            apply(fault, to: id, device: jid)
        }
        return !connections.isEmpty
    }

    /// A login fault: keepalive behaviour changes at once; stream errors and unlinks come after the
    /// fault's delay, so that the client has finished coming online (prekeys, passive) by then.
    private func apply(_ fault: InjectedFault, to id: SimConnectionID, device: JID) {
        switch fault.kind {
        case .slowKeepalive:
            world.deliver(.fault(.keepalive(.delay(fault.delay))), to: id)
        case .missingKeepalive:
            world.deliver(.fault(.keepalive(.ignore)), to: id)
        default:
            guard fault.delay > .zero, let eventLoop = running.withLock({ $0?.eventLoopGroup.next() }) else {
                applyNow(fault.kind, to: id, device: device)
                return
            }
            eventLoop.scheduleTask(in: TimeAmount(fault.delay)) { [weak self] in
                self?.applyNow(fault.kind, to: id, device: device)
            }
        }
    }

    private func applyNow(_ kind: FaultKind, to id: SimConnectionID, device: JID) {
        switch kind {
        case .streamError515: world.deliver(.fault(.streamError(.restartRequired)), to: id)
        case .streamError503: world.deliver(.fault(.streamError(.serviceUnavailable)), to: id)
        case .conflictReplaced: world.deliver(.fault(.streamError(.replaced)), to: id)
        case .deviceRemoved: world.deliver(.fault(.streamError(.deviceRemoved)), to: id)
        case .unlink:
            // Only while the login that drew it lasts: a device already gone is not unlinked twice.
            guard world.loggedInConnections(of: device).contains(id) else { return }
            stats.faultInjected(.unlink)
            world.unlink(device)
        default:
            break
        }
    }

    func saveState() throws(SimulatorError) {
        try stateFile?.save { world.snapshot() }
    }

    private func persistAfterChange() {
        do {
            try saveState()
        } catch {
            logger.error("cannot save the simulator state", metadata: ["error": "\(error)"])
        }
    }

    static func urlHost(_ host: String) -> String {
        host.contains(":") ? "[\(host)]" : host
    }

    private static func certificateHosts(_ host: String) -> [String] {
        var hosts = ["localhost", "127.0.0.1", "::1"]
        if !hosts.contains(host), host != "0.0.0.0", host != "::" {
            hosts.insert(host, at: 0)
        }
        return hosts
    }
}

/// Lets the world's observer, made before the simulator, reach it once it exists (weakly: the
/// simulator owns the world, which owns the observer).
private final class ObserverBox: Sendable {
    private struct Weak {
        weak var simulator: Simulator?
    }

    private let stored = Mutex(Weak())
    var simulator: Simulator? {
        get { stored.withLock { $0.simulator } }
        set { stored.withLock { $0.simulator = newValue } }
    }
}

/// The bound port of a server that reports it from another task, once.
private final class PortWaiter: Sendable {
    private let state = Mutex<(result: Result<Int, any Error>?, waiter: CheckedContinuation<Int, any Error>?)>((nil, nil))

    func resolve(_ result: Result<Int, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<Int, any Error>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }

    func value() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<Int, any Error>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
