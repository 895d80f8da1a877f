import Foundation
import WAWire

/// The simulated WhatsApp server's side of one connection, as a pure state machine driven by a shell.
///
/// It runs the handshake with the server's static key and certificate chain, serves pair-device refs, pairs
/// by QR or code on behalf of the simulated phone, logs devices in, answers keepalive, prekey, passive and
/// logout IQs, and records every client protocol violation in the `SimWorld`. Rules for the shell:
/// - `.received` takes the bytes of one binary WebSocket message, `.write` gives the bytes of one;
/// - timers are named; scheduling a name again replaces it; after `.close` they can all be dropped;
/// - `.close` means: flush the writes before it, then close the socket; the machine has already told the
///   world the connection ended, and ignores later inputs;
/// - feed `.transportClosed` when the socket closes on its own, and every `SimWorld` delivery as `.delivered`.
public struct SimConnectionMachine: Sendable {
    /// The server's keys and the protocol's timings; lifetimes default to WhatsApp's.
    public struct Configuration: Sendable {
        /// The Noise static key the certificate chain's leaf certifies.
        public var staticKey: Curve25519KeyPair
        /// The serialized CertChain sent in ServerHello.
        public var certificateChain: [UInt8]
        /// Refs in one pair-device.
        public var refCount = 6
        public var firstRefLifetime: Duration = .seconds(60)
        public var laterRefLifetime: Duration = .seconds(20)
        /// After the last ref expires the server closes the connection, this much later so that the client,
        /// whose timers started a little after ours, gives up first.
        public var refExhaustionGrace: Duration = .seconds(5)
        /// How long the client may take for ClientHello, and again for ClientFinish after ServerHello.
        public var handshakeTimeout: Duration = .seconds(20)
        /// How long the client may take to answer pair-device or ack a notification.
        public var answerDeadline: Duration = .seconds(10)
        /// How long the client may take to answer pair-success (it persists its credentials first).
        public var pairSuccessDeadline: Duration = .seconds(30)
        /// The 2026 behaviour (pairing.md §10): the first scan is answered with companion_reg_refresh, and
        /// pairing continues only when the phone scans the re-rendered QR with its new ADV secret.
        public var refreshRegistrationOnScan = false

        public init(staticKey: Curve25519KeyPair, certificateChain: [UInt8]) {
            self.staticKey = staticKey
            self.certificateChain = certificateChain
        }
    }

    /// What happened, as the shell tells it.
    public enum Input: Sendable {
        /// The WebSocket is open.
        case connected(now: Date)
        /// The bytes of one binary WebSocket message from the client.
        case received([UInt8], now: Date)
        case timerFired(Timer, now: Date)
        /// Something from `SimWorld`: the phone, another connection, or a fault.
        case delivered(SimDelivery, now: Date)
        /// The socket closed on its own.
        case transportClosed
    }

    /// What the shell must do, in order.
    public enum Action: Sendable {
        /// Send the bytes as one binary WebSocket message.
        case write([UInt8])
        case schedule(Timer, after: Duration)
        case cancel(Timer)
        /// Close the socket after the writes before it.
        case close
    }

    /// The machine's timers.
    public enum Timer: Hashable, Sendable {
        /// ClientHello or ClientFinish did not come in time.
        case handshake
        /// A delayed ServerHello (fault) is due.
        case delayedServerHello
        /// The ref on screen expired.
        case refExpiry
        /// The grace after the last ref is over: the server ends the connection.
        case pairingWindowClosed
        /// The client owes an answer or ack to the stanza with this id.
        case answer(String)
        /// A slowed keepalive answer (fault) is due.
        case keepaliveAnswer(String)
    }

    /// Where the connection is.
    public enum Phase: Sendable, Hashable {
        case idle
        case handshaking
        /// A registration: refs, scans, code pairing, pair-success.
        case registered
        case loggedIn
        case closed
    }

    public let id: SimConnectionID
    public internal(set) var phase = Phase.idle
    /// The device this connection logged in as, or linked by pairing.
    public internal(set) var device: JID?

    let world: SimWorld
    let configuration: Configuration
    var faults: SimConnectionFaults
    var random: InjectedRandom

    var handshake: ServerHandshake?
    var reader = FrameReader(intro: .required(allowsRoutingPrefix: true))
    let decoder = NodeDecoder()
    /// ClientHello was read; the next handshake frame must be ClientFinish.
    var expectsClientFinish = false
    var delayedServerHello: [UInt8]?
    var transport: NoiseTransport?
    var clientStaticKey: [UInt8] = []

    var registration: Registration?
    var session: LoginSession?
    /// Answers and acks the client owes, by stanza id.
    var expected: [String: Expectation] = [:]
    var idCounter: UInt64
    /// Fault labels already counted, so a standing fault counts once per connection.
    var notedFaults: Set<String> = []

    /// A machine for the connection `id` from `world.openConnection`, applying `faults` from its start.
    /// `random` draws refs, ephemeral keys and signatures; seed it only in tests.
    public init(
        id: SimConnectionID,
        world: SimWorld,
        configuration: Configuration,
        faults: SimConnectionFaults = SimConnectionFaults(),
        random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
    ) {
        self.id = id
        self.world = world
        self.configuration = configuration
        self.faults = faults
        self.random = InjectedRandom(base: random)
        idCounter = UInt64.random(in: 1_000_000_000...2_000_000_000, using: &self.random)
    }

    public mutating func handle(_ input: Input) -> [Action] {
        guard phase != .closed else {
            return []
        }
        switch input {
        case .connected(let now):
            return connect(now: now)
        case .received(let bytes, let now):
            return receive(bytes, now: now)
        case .timerFired(let timer, let now):
            return timerFired(timer, now: now)
        case .delivered(let delivery, let now):
            return deliver(delivery, now: now)
        case .transportClosed:
            phase = .closed
            world.connectionEnded(id)
            return []
        }
    }

    // MARK: Handshake

    private mutating func connect(now: Date) -> [Action] {
        guard phase == .idle else {
            return []
        }
        if faults.refuse {
            noteFault("refuse")
            return close()
        }
        phase = .handshaking
        handshake = ServerHandshake(
            staticKey: configuration.staticKey,
            certificateChain: configuration.certificateChain,
            ephemeralKey: Curve25519KeyPair.generate(using: &random)
        )
        return [.schedule(.handshake, after: configuration.handshakeTimeout)]
    }

    private mutating func receive(_ bytes: [UInt8], now: Date) -> [Action] {
        guard phase != .idle else {
            return []
        }
        do {
            try reader.append(bytes)
        } catch {
            return violationAndClose(.transport, "unreadable framing (\(error))", now: now)
        }
        var actions: [Action] = []
        while phase != .closed {
            let frame: [UInt8]?
            do {
                frame = try reader.nextFrame()
            } catch {
                actions += violationAndClose(.transport, "unreadable framing (\(error))", now: now)
                break
            }
            guard let frame else {
                break
            }
            actions += transport == nil ? handshakeFrame(frame, now: now) : transportFrame(frame, now: now)
        }
        return actions
    }

    private mutating func handshakeFrame(_ frame: [UInt8], now: Date) -> [Action] {
        guard var handshake, delayedServerHello == nil else {
            return violationAndClose(.wrongOrder, "a frame arrived before ServerHello was sent", now: now)
        }
        if !expectsClientFinish {
            let hello: [UInt8]
            do {
                hello = try handshake.receiveClientHello(frame)
            } catch {
                return violationAndClose(.transport, "ClientHello refused (\(error))", now: now)
            }
            self.handshake = handshake
            expectsClientFinish = true
            if faults.dropMidHandshake {
                noteFault("drop_mid_handshake")
                return close()
            }
            if let delay = faults.handshakeDelay {
                // Our own patience starts again when ServerHello is out, or we would end the connection
                // before the client could notice the delay.
                noteFault("handshake_delay")
                delayedServerHello = hello
                return [.cancel(.handshake), .schedule(.delayedServerHello, after: delay)]
            }
            return [.write(Self.framed(hello)), .schedule(.handshake, after: configuration.handshakeTimeout)]
        }
        let completion: ServerHandshake.Completion
        do {
            completion = try handshake.receiveClientFinish(frame)
        } catch {
            return violationAndClose(.transport, "ClientFinish refused (\(error))", now: now)
        }
        self.handshake = nil
        transport = completion.transport
        clientStaticKey = completion.clientStaticKey
        var actions: [Action] = [.cancel(.handshake)]
        switch completion.clientPayload.kind {
        case .registration(let keys, _, let deviceProps):
            world.note(.handshakeCompleted(id, isRegistration: true))
            actions += startRegistration(keys: keys, os: deviceProps.os, now: now)
        case .login(let username, let device):
            world.note(.handshakeCompleted(id, isRegistration: false))
            actions += login(username: username, device: device, now: now)
        }
        return actions
    }

    private mutating func transportFrame(_ frame: [UInt8], now: Date) -> [Action] {
        guard var transport else {
            return []
        }
        let plaintext: Data
        do {
            plaintext = try transport.decrypt(frame)
        } catch {
            return violationAndClose(.transport, "a frame failed to decrypt", now: now)
        }
        self.transport = transport
        let node: Node
        do {
            node = try decoder.decode(frame: plaintext)
        } catch {
            record(.malformedStanza, "a stanza did not decode (\(error.code))", now: now)
            return []
        }
        return handleNode(node, now: now)
    }

    // MARK: Timers and deliveries

    private mutating func timerFired(_ timer: Timer, now: Date) -> [Action] {
        switch timer {
        case .handshake:
            return phase == .handshaking ? close() : []
        case .delayedServerHello:
            guard let hello = delayedServerHello else {
                return []
            }
            delayedServerHello = nil
            return [.write(Self.framed(hello)), .schedule(.handshake, after: configuration.handshakeTimeout)]
        case .refExpiry:
            return refExpired(now: now)
        case .pairingWindowClosed:
            guard phase == .registered, registration?.pairing == nil else {
                return []
            }
            return close()
        case .answer(let stanzaID):
            guard let expectation = expected.removeValue(forKey: stanzaID) else {
                return []
            }
            record(.missingAnswer, "no answer to \(expectation.what) (id \(stanzaID))", now: now)
            if case .pairSuccessReply = expectation {
                return close()
            }
            return []
        case .keepaliveAnswer(let pingID):
            return send(Node("iq", ["from": .server, "type": "result", "id": .string(pingID), "t": .string(Self.unix(now))]))
        }
    }

    private mutating func deliver(_ delivery: SimDelivery, now: Date) -> [Action] {
        switch delivery {
        case .scanned(let qr, let account):
            return scanned(qr, account: account, now: now)
        case .codeEntered(let code, let account):
            return codeEntered(code, account: account, now: now)
        case .replaced:
            guard phase == .loggedIn else {
                return []
            }
            return send(SimStreamError.replaced.node) + close()
        case .deviceRemoved:
            guard phase == .loggedIn else {
                return []
            }
            return send(SimStreamError.deviceRemoved.node) + close()
        case .preKeysLow(let available):
            guard phase == .loggedIn else {
                return []
            }
            let notificationID = nextID()
            let notification = Node("notification", ["from": .server, "type": "encrypt", "id": .string(notificationID)], [
                Node("count", ["value": .string(String(available))]),
            ])
            return send(notification) + expect(.notificationAck(type: "encrypt"), id: notificationID)
        case .fault(let fault):
            return apply(fault)
        }
    }

    private mutating func apply(_ fault: SimFault) -> [Action] {
        switch fault {
        case .streamError(let error):
            noteFault(error.label, always: true)
            return (transport == nil ? [] : send(error.node)) + close()
        case .keepalive(let behaviour):
            faults.keepalive = behaviour
            notedFaults = notedFaults.filter { !$0.hasPrefix("keepalive_") }
            return []
        case .drop:
            noteFault("drop", always: true)
            return close()
        }
    }

    // MARK: Sending and bookkeeping

    mutating func nextID() -> String {
        idCounter += 1
        return String(idCounter)
    }

    mutating func send(_ node: Node) -> [Action] {
        guard var transport else {
            return []
        }
        do {
            let body = try transport.encrypt(try NodeEncoder.encode(node))
            self.transport = transport
            return [.write(Self.framed(body))]
        } catch {
            return close()
        }
    }

    /// Waits for the client's answer to `stanzaID`.
    mutating func expect(_ expectation: Expectation, id stanzaID: String) -> [Action] {
        guard phase != .closed else {
            return []
        }
        expected[stanzaID] = expectation
        let deadline = if case .pairSuccessReply = expectation { configuration.pairSuccessDeadline } else { configuration.answerDeadline }
        return [.schedule(.answer(stanzaID), after: deadline)]
    }

    mutating func close() -> [Action] {
        guard phase != .closed else {
            return []
        }
        phase = .closed
        registration = nil
        transport = nil
        handshake = nil
        world.connectionEnded(id)
        return [.close]
    }

    func record(_ kind: SimViolation.Kind, _ detail: String, now: Date) {
        let who = device?.description ?? registration?.phoneNumber
        world.record(SimViolation(connection: id, device: who, kind: kind, detail: detail, at: now))
    }

    mutating func violationAndClose(_ kind: SimViolation.Kind, _ detail: String, now: Date) -> [Action] {
        record(kind, detail, now: now)
        return close()
    }

    mutating func noteFault(_ label: String, always: Bool = false) {
        guard always || notedFaults.insert(label).inserted else {
            return
        }
        world.note(.faultApplied(id, label))
    }

    /// One frame on the wire: a 3-byte big-endian length, then the body (the server sends no header).
    static func framed(_ body: some Collection<UInt8>) -> [UInt8] {
        let count = body.count
        var message: [UInt8] = []
        message.reserveCapacity(3 + count)
        message += [UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count)]
        message.append(contentsOf: body)
        return message
    }

    /// Unix seconds; out-of-range clocks read as 0 rather than trapping.
    static func unixSeconds(_ date: Date) -> UInt64 {
        let seconds = date.timeIntervalSince1970
        return seconds > 0 && seconds < 1e15 ? UInt64(seconds) : 0
    }

    /// Unix seconds as the decimal attribute value stanzas carry.
    static func unix(_ date: Date) -> String {
        String(unixSeconds(date))
    }
}
