import Foundation
import Synchronization
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// The simulator's keys and certificate chain for tests, valid a day either side of `Conversation.start`.
struct TestServerKeys: Sendable {
    let root: Curve25519KeyPair
    let serverConfiguration: SimConnectionMachine.Configuration

    /// Certificates valid for a day either side of `around` (the conversations' manual clock; shells
    /// on a real clock pass `Date()`).
    init(seed: UInt64 = 7, around: Date = Conversation.start) {
        var random = SeededRandom(seed: seed)
        root = Curve25519KeyPair.generate(using: &random)
        let intermediate = Curve25519KeyPair.generate(using: &random)
        let staticKey = Curve25519KeyPair.generate(using: &random)
        let start = UInt64(around.timeIntervalSince1970)
        let chain = CertificateChain.issue(
            rootKey: root, intermediateKey: intermediate, serverStaticKey: staticKey.publicKey,
            notBefore: start - 86400, notAfter: start + 86400
        )
        serverConfiguration = SimConnectionMachine.Configuration(staticKey: staticKey, certificateChain: chain)
    }

    /// A client configuration that trusts this test root.
    func clientConfiguration() -> ClientSessionMachine.Configuration {
        var configuration = ClientSessionMachine.Configuration()
        configuration.trustedRootKey = root.publicKey
        return configuration
    }
}

/// What a world delivers to one connection, queued until the harness pumps it (never synchronously).
final class DeliveryInbox: Sendable {
    private let queue = Mutex<[SimDelivery]>([])

    func append(_ delivery: SimDelivery) {
        queue.withLock { $0.append(delivery) }
    }

    func drain() -> [SimDelivery] {
        queue.withLock { queue in
            defer { queue = [] }
            return queue
        }
    }
}

/// Client machines wired to simulator machines through byte queues, with one manual clock for all timers.
///
/// Every write goes to the peer in order; a close flushes the writes before it and then tells the peer its
/// socket closed. Timers fire in deadline order (ties in scheduling order) as the clock advances. The
/// simulator machines' updates go to `world`, and their questions are answered from it, as their shell does.
final class Conversation {
    static let start = Date(timeIntervalSince1970: 1_760_000_000)

    /// One socket: a client machine, its simulator machine, and what the client emitted.
    final class Link {
        var client: ClientSessionMachine
        var server: SimConnectionMachine
        let inbox: DeliveryInbox
        var events: [ClientEvent] = []
        var completions: [ClientRequestID: Result<Node, ClientRequestError>] = [:]
        var sends: [ClientRequestID: Result<Void, ClientRequestError>] = [:]
        /// Credentials handed over by `.confirmPairing`, until confirmed.
        var credentialsToConfirm: DeviceCredentials?
        /// Every answered keepalive's round trip, as the machine reported it.
        var keepaliveRoundTrips: [Duration] = []
        var clientClosed = false
        var serverClosed = false
        var toServer: [[UInt8]] = []
        var toClient: [[UInt8]] = []
        /// Every byte message the client wrote, for fuzzing and inspection.
        var clientWrites: [[UInt8]] = []

        init(client: ClientSessionMachine, server: SimConnectionMachine, inbox: DeliveryInbox) {
            self.client = client
            self.server = server
            self.inbox = inbox
        }

        var qrCodes: [String] {
            events.compactMap { if case .qr(let code, _) = $0 { code } else { nil } }
        }

        var qrLifetimes: [Duration] {
            events.compactMap { if case .qr(_, let validFor) = $0 { validFor } else { nil } }
        }

        var pairingCodes: [String] {
            events.compactMap { if case .pairingCode(let code, _) = $0 { code } else { nil } }
        }

        /// The terminal event's reason, and whether it was `.loggedOut`.
        var ending: (reason: DisconnectReason, loggedOut: Bool)? {
            for event in events {
                switch event {
                case .disconnected(let reason): return (reason, false)
                case .loggedOut(let reason): return (reason, true)
                default: continue
                }
            }
            return nil
        }

        var online: OnlineInfo? {
            events.lazy.compactMap { if case .online(let info) = $0 { info } else { nil } }.first
        }

        var updatedCredentials: [DeviceCredentials] {
            events.compactMap { if case .credentialsUpdated(let credentials) = $0 { credentials } else { nil } }
        }

        var paired: PairedAccount? {
            events.lazy.compactMap { if case .paired(let account) = $0 { account } else { nil } }.first
        }

        /// Event names in order, for readable expectations.
        var eventNames: [String] {
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

    private enum Side: Hashable {
        case client(ClientSessionMachine.Timer)
        case server(SimConnectionMachine.Timer)
    }

    private struct PendingTimer {
        let deadline: Date
        let sequence: Int
        let link: ObjectIdentifier
        let side: Side
    }

    let keys: TestServerKeys
    let world: SimWorld
    var now = Conversation.start
    var serverConfiguration: SimConnectionMachine.Configuration
    var clientConfiguration: ClientSessionMachine.Configuration
    /// How `.confirmPairing` is answered automatically; nil leaves it to the test.
    var autoConfirm: ClientSessionMachine.PairingDecision? = .accepted
    private(set) var links: [Link] = []
    private var timers: [PendingTimer] = []
    private var sequence = 0
    private var seed: UInt64 = 100

    init(world: SimWorld? = nil, keys: TestServerKeys = TestServerKeys()) {
        self.keys = keys
        self.world = world ?? SimWorld()
        serverConfiguration = keys.serverConfiguration
        clientConfiguration = keys.clientConfiguration()
    }

    /// An account the phone can pair with.
    @discardableResult
    func addAccount(phoneNumber: String = "15551234567", businessName: String? = nil) -> SimAccount {
        var random = SeededRandom(seed: UInt64(phoneNumber) ?? 1)
        let account = SimAccount.generate(phoneNumber: phoneNumber, businessName: businessName, using: &random)
        world.addAccount(account)
        return account
    }

    /// Fresh, reproducible credentials.
    func freshCredentials() -> DeviceCredentials {
        seed += 1
        var random = SeededRandom(seed: seed)
        return DeviceCredentials.generate(using: &random)
    }

    /// Opens a socket: the simulator registers the connection, both machines start, bytes flow.
    @discardableResult
    func connect(_ credentials: DeviceCredentials, intent: ConnectionIntent, faults: SimConnectionFaults? = nil) -> Link {
        seed += 1
        let inbox = DeliveryInbox()
        let ticket = world.openConnection { inbox.append($0) }
        let server = SimConnectionMachine(
            id: ticket.id, configuration: serverConfiguration, faults: faults ?? ticket.faults,
            random: SeededRandom(seed: seed)
        )
        let client = ClientSessionMachine(
            credentials: credentials, intent: intent, configuration: clientConfiguration, random: SeededRandom(seed: seed + 5000)
        )
        let link = Link(client: client, server: server, inbox: inbox)
        links.append(link)
        apply(link.server.handle(.connected(now: now)), to: link)
        apply(link.client.handle(.connected(now: now)), to: link)
        pump()
        return link
    }

    /// Feeds an input to a link's client and runs everything that follows.
    func client(_ link: Link, _ input: ClientSessionMachine.Input) {
        apply(link.client.handle(input), to: link)
        pump()
    }

    /// Feeds an input to a link's server machine and runs everything that follows.
    func server(_ link: Link, _ input: SimConnectionMachine.Input) {
        apply(link.server.handle(input), to: link)
        pump()
    }

    /// Makes the client write `node` as if its machine had decided to (for stanzas it never sends by itself).
    func clientSends(_ link: Link, _ node: Node) {
        apply(link.client.send(node), to: link)
        pump()
    }

    /// Makes the simulator write `node` on the link (for stanzas it never sends by itself).
    func serverSends(_ link: Link, _ node: Node) {
        apply(link.server.send(node), to: link)
        pump()
    }

    /// Sends bytes to a link's client as if the server had written them.
    func inject(toClient link: Link, _ bytes: [UInt8]) {
        apply(link.client.handle(.received(bytes, now: now)), to: link)
        pump()
    }

    /// Moves the clock forward, firing due timers in order.
    func advance(by duration: Duration) {
        let target = now.addingTimeInterval(duration.seconds)
        while let index = nextDueTimer(by: target) {
            let timer = timers.remove(at: index)
            now = max(now, timer.deadline)
            guard let link = links.first(where: { ObjectIdentifier($0) == timer.link }) else {
                continue
            }
            switch timer.side {
            case .client(let name):
                apply(link.client.handle(.timerFired(name, now: now)), to: link)
            case .server(let name):
                apply(link.server.handle(.timerFired(name, now: now)), to: link)
            }
            pump()
        }
        now = target
    }

    /// The scheduled client timers of `link`, soonest first.
    func clientTimers(_ link: Link) -> [(ClientSessionMachine.Timer, Date)] {
        timers.filter { $0.link == ObjectIdentifier(link) }.sorted { $0.deadline < $1.deadline }.compactMap {
            if case .client(let name) = $0.side { (name, $0.deadline) } else { nil }
        }
    }

    private func nextDueTimer(by target: Date) -> Int? {
        var best: Int?
        for (index, timer) in timers.enumerated() where timer.deadline <= target {
            if let current = best,
               (timers[current].deadline, timers[current].sequence) <= (timer.deadline, timer.sequence) {
                continue
            }
            best = index
        }
        return best
    }

    private func apply(_ actions: [ClientSessionMachine.Action], to link: Link) {
        for action in actions {
            switch action {
            case .write(let bytes):
                link.clientWrites.append(bytes)
                if !link.serverClosed {
                    link.toServer.append(bytes)
                }
            case .emit(let event):
                link.events.append(event)
            case .confirmPairing(let credentials):
                link.credentialsToConfirm = credentials
            case .keepaliveRoundTrip(let roundTrip):
                link.keepaliveRoundTrips.append(roundTrip)
            case .schedule(let name, let after):
                schedule(.client(name), after: after, on: link)
            case .cancel(let name):
                timers.removeAll { $0.link == ObjectIdentifier(link) && $0.side == .client(name) }
            case .complete(let id, let result):
                link.completions[id] = result
            case .sent(let id, let result):
                link.sends[id] = result
            case .close:
                link.clientClosed = true
                timers.removeAll { timer in
                    if timer.link == ObjectIdentifier(link), case .client = timer.side { true } else { false }
                }
            }
        }
    }

    private func apply(_ actions: [SimConnectionMachine.Action], to link: Link) {
        for action in actions {
            switch action {
            case .write(let bytes):
                if !link.clientClosed {
                    link.toClient.append(bytes)
                }
            case .schedule(let name, let after):
                schedule(.server(name), after: after, on: link)
            case .cancel(let name):
                timers.removeAll { $0.link == ObjectIdentifier(link) && $0.side == .server(name) }
            case .update(let update):
                world.apply(update, from: link.server.id)
            case .ask(let question):
                apply(link.server.handle(.answered(world.answer(question, from: link.server.id), now: now)), to: link)
            case .close:
                link.serverClosed = true
                timers.removeAll { timer in
                    if timer.link == ObjectIdentifier(link), case .server = timer.side { true } else { false }
                }
            }
        }
    }

    private func schedule(_ side: Side, after: Duration, on link: Link) {
        timers.removeAll { $0.link == ObjectIdentifier(link) && $0.side == side }
        sequence += 1
        timers.append(PendingTimer(
            deadline: now.addingTimeInterval(after.seconds), sequence: sequence, link: ObjectIdentifier(link), side: side
        ))
    }

    /// Moves bytes, closes and deliveries until nothing is left to do.
    private func pump() {
        var progressed = true
        while progressed {
            progressed = false
            for link in links {
                while !link.toServer.isEmpty, !link.serverClosed {
                    let bytes = link.toServer.removeFirst()
                    apply(link.server.handle(.received(bytes, now: now)), to: link)
                    progressed = true
                }
                while !link.toClient.isEmpty, !link.clientClosed {
                    let bytes = link.toClient.removeFirst()
                    apply(link.client.handle(.received(bytes, now: now)), to: link)
                    progressed = true
                }
                for delivery in link.inbox.drain() {
                    apply(link.server.handle(.delivered(delivery, now: now)), to: link)
                    progressed = true
                }
                if link.clientClosed, !link.serverClosed, link.toServer.isEmpty {
                    link.serverClosed = true
                    apply(link.server.handle(.transportClosed), to: link)
                    progressed = true
                }
                if link.serverClosed, !link.clientClosed, link.toClient.isEmpty {
                    apply(link.client.handle(.transportClosed), to: link)
                    link.clientClosed = true
                    progressed = true
                }
                if let decision = autoConfirm, link.credentialsToConfirm != nil {
                    link.credentialsToConfirm = nil
                    apply(link.client.handle(.pairingConfirmed(decision, now: now)), to: link)
                    progressed = true
                }
            }
        }
    }
}

extension Conversation {
    /// Pairs a fresh device by QR with the account of `phoneNumber` and returns its persisted credentials
    /// (the connection ends with 515, as after every pairing).
    func pairByQR(phoneNumber: String = "15551234567") throws -> DeviceCredentials {
        if world.account(phoneNumber: phoneNumber) == nil {
            addAccount(phoneNumber: phoneNumber)
        }
        let link = connect(freshCredentials(), intent: .pair(.qr))
        let qr = try #require(link.qrCodes.last)
        try world.scan(qr, phoneNumber: phoneNumber)
        pump()
        #expect(link.ending?.reason.category == .restartRequired)
        return link.client.credentials
    }

    /// Logs `credentials` in and returns the link (online unless the server refused).
    @discardableResult
    func login(_ credentials: DeviceCredentials, faults: SimConnectionFaults? = nil) -> Link {
        connect(credentials, intent: .login, faults: faults)
    }

    /// Runs the queues after an outside change (a scan, a world delivery).
    func settle() {
        pump()
    }
}
