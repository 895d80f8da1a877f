import DevicePool
import Foundation
import Synchronization
import WAClient
import WAWire

/// An upstream whose connections the test drives (pool and API tests alike): every `connect` appears on `sessions`, and the
/// test emits the events the real client would.
public final class ScriptedUpstream: UpstreamConnector {
    public let sessions: AsyncStream<ScriptedSession>
    private let sink: AsyncStream<ScriptedSession>.Continuation
    private let count = Mutex(0)
    private let version = Mutex("2.3000.1045649367")

    /// How many connections the pool opened.
    public var sessionCount: Int { count.withLock { $0 } }

    private let makeCredentials: (@Sendable () -> DeviceCredentials)?

    /// `makeCredentials` gives each new pairing its keys; by default random bytes, which is enough
    /// unless a test encrypts to the device (then pass `DeviceCredentials.generate`).
    public init(makeCredentials: (@Sendable () -> DeviceCredentials)? = nil) {
        (sessions, sink) = AsyncStream.makeStream(of: ScriptedSession.self)
        self.makeCredentials = makeCredentials
    }

    public func newCredentials() -> DeviceCredentials {
        if let makeCredentials { return makeCredentials() }
        var rng = SystemRandomNumberGenerator()
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        return DeviceCredentials(
            noiseKey: bytes(32), identityKey: bytes(32), signedPreKeyID: 1, signedPreKey: bytes(32),
            signedPreKeySignature: bytes(64), registrationID: 7, advSecret: bytes(32), preKeySeed: bytes(32)
        )
    }

    public func announce(webVersion: String) {
        version.withLock { $0 = webVersion }
    }

    public func connect(
        credentials: DeviceCredentials, intent: ConnectionIntent, proxy: ProxyConfiguration?,
        deliver: @escaping @Sendable (ClientEvent) -> Void
    ) -> any UpstreamSession {
        let session = ScriptedSession(credentials: credentials, intent: intent, proxy: proxy, webVersion: version.withLock { $0 }, deliver: deliver)
        count.withLock { $0 += 1 }
        sink.yield(session)
        return session
    }
}

/// One scripted connection: what the test emits goes to the pool as the real client's events
/// would, and nothing after the terminal one.
public final class ScriptedSession: UpstreamSession {
    public let credentials: DeviceCredentials
    public let intent: ConnectionIntent
    /// The device's own proxy the pool asked for (nil: the connector's default).
    public let proxy: ProxyConfiguration?
    /// The WhatsApp Web version the connection announced.
    public let webVersion: String
    private let deliver: @Sendable (ClientEvent) -> Void
    private let ended = Mutex(false)
    private let unhandled = Mutex(0)
    private let closed = Mutex<DisconnectReason?>(nil)
    private let loggedOut = Mutex(false)
    private let written = Mutex<[Node]>([])
    private let logoutGate = Mutex<(held: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    init(
        credentials: DeviceCredentials, intent: ConnectionIntent, proxy: ProxyConfiguration?, webVersion: String,
        deliver: @escaping @Sendable (ClientEvent) -> Void
    ) {
        self.credentials = credentials
        self.intent = intent
        self.proxy = proxy
        self.webVersion = webVersion
        self.deliver = deliver
    }

    public func emit(_ event: ClientEvent) {
        let open = ended.withLock { ended in
            defer {
                switch event {
                case .disconnected, .loggedOut: ended = true
                default: break
                }
            }
            return !ended
        }
        guard open else { return }
        unhandled.withLock { $0 += 1 }
        deliver(event)
    }

    /// Events delivered that the pool has not finished handling.
    public var unhandledEvents: Int { unhandled.withLock { $0 } }

    public func handled() {
        unhandled.withLock { $0 -= 1 }
    }

    public var closeReason: DisconnectReason? { closed.withLock { $0 } }

    /// Every node the pool sent, in order.
    public var sent: [Node] { written.withLock { $0 } }

    public func send(_ nodes: [Node]) async throws {
        guard !ended.withLock({ $0 }) else { throw ClientRequestError(.connectionClosed) }
        written.withLock { $0 += nodes }
    }
    public var didLogOut: Bool { loggedOut.withLock { $0 } }

    /// Answers the pool's IQs from now on; without it, every IQ times out.
    public func answerQueries(_ answer: @escaping @Sendable (Node) -> Node?) {
        queryAnswers.withLock { $0 = answer }
    }
    private let queryAnswers = Mutex<(@Sendable (Node) -> Node?)?>(nil)
    /// Every IQ the pool sent, in order.
    public var queries: [Node] { asked.withLock { $0 } }
    private let asked = Mutex<[Node]>([])

    public func query(_ iq: Node) async throws -> Node {
        guard !ended.withLock({ $0 }) else { throw ClientRequestError(.connectionClosed) }
        asked.withLock { $0.append(iq) }
        guard let answer = queryAnswers.withLock({ $0 })?(iq) else { throw ClientRequestError(.timedOut) }
        return answer
    }

    public func close(reason: DisconnectReason) async {
        closed.withLock { $0 = reason }
        emit(.disconnected(reason))
    }

    /// From now on `logout()` waits (ignoring cancellation, like a request on a busy socket)
    /// until `releaseLogout()`.
    public func holdLogout() {
        logoutGate.withLock { $0.held = true }
    }

    public func releaseLogout() {
        let waiters = logoutGate.withLock { gate in
            gate.held = false
            defer { gate.waiters = [] }
            return gate.waiters
        }
        waiters.forEach { $0.resume() }
    }

    public func logout() async throws {
        await withCheckedContinuation { continuation in
            let held = logoutGate.withLock { gate in
                if gate.held { gate.waiters.append(continuation) }
                return gate.held
            }
            if !held { continuation.resume() }
        }
        loggedOut.withLock { $0 = true }
        emit(.loggedOut(DisconnectReason(stage: .local, category: .loggedOut, detail: "logged out")))
    }

    /// Emits pair-success with an account and waits for the pool's answer.
    @discardableResult
    public func pairSuccess(jid: String) async -> Result<Void, any Error> {
        var paired = credentials
        paired.account = PairedAccount(jid: jid, lid: nil, platform: "android", businessName: nil, signedIdentity: [1, 2, 3], keyIndex: 1)
        return await withCheckedContinuation { continuation in
            emit(.pairSuccess(credentials: paired, confirmation: PairingConfirmation { continuation.resume(returning: $0) }))
        }
    }
}
