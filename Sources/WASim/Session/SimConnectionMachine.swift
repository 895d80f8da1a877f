import Foundation
import WAWire

/// The simulated WhatsApp server's side of one connection, as a pure state machine driven by a shell.
///
/// It runs the handshake with the server's static key and certificate chain, serves pair-device refs, pairs
/// by QR or code on behalf of the simulated phone, logs devices in, answers keepalive, prekey, passive and
/// logout IQs and prekey fetches, delivers the device's queued stanzas and checks their answers (receipts, acks, retry
/// receipts; SimConnectionMachine+Delivery.swift), and reports every client protocol violation. It never touches the shared `SimWorld`: it
/// returns what should change there, and asks when its next step depends on it. Rules for the shell:
/// - `.received` takes the bytes of one binary WebSocket message, `.write` gives the bytes of one;
/// - timers are named; scheduling a name again replaces it; after `.close` they can all be dropped;
/// - `.update` is applied to the world (`SimWorld.apply(_:from:)`) in order with the other actions;
/// - `.ask` comes last in its batch: feed `SimWorld.answer(_:from:)` back as `.answered` at once, before
///   any other input (frames received behind the one that asked wait in the machine until then);
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
        /// How long a delivered stanza may stay unanswered before the server sends
        /// `<stream:error><ack/></stream:error>` and closes (messaging.md §3.4).
        public var ackDeadline: Duration = .seconds(60)
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
        /// The world's answer to the `.ask` just returned.
        case answered(SimWorld.Answer, now: Date)
        /// The socket closed on its own.
        case transportClosed
    }

    /// What the shell must do, in order.
    public enum Action: Sendable {
        /// Send the bytes as one binary WebSocket message.
        case write([UInt8])
        case schedule(Timer, after: Duration)
        case cancel(Timer)
        /// Apply this to the world.
        case update(SimWorld.Update)
        /// Ask the world, and feed its answer back as `.answered` at once; always the batch's last action.
        case ask(SimWorld.Question)
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
        /// The oldest stanza delivered and not answered reaches `ackDeadline`.
        case ackDeadline
        /// A contact's read receipt for the device is due.
        case readReceipts
    }

    /// Where the connection is, as observers see it; `state` holds what each point needs.
    public enum Phase: Sendable, Hashable {
        case idle
        case handshaking
        /// A registration: refs, scans, code pairing, pair-success.
        case registered
        /// A login payload came; the world decides.
        case loggingIn
        case loggedIn
        case closed
    }

    public let id: SimConnectionID
    /// The device this connection logged in as, or linked by pairing; it stays after the close.
    public internal(set) var device: JID?

    let configuration: Configuration
    var faults: SimConnectionFaults
    var random: InjectedRandom
    /// Where the connection is, with that point's data (SimConnectionMachine+State.swift).
    var state = State.idle
    var stream = FrameStream(side: .server)
    /// The step waiting for the world's answer; set by `ask`, taken by `.answered`.
    var awaiting: Awaiting?
    var idCounter: UInt64
    /// Fault labels already counted, so a standing fault counts once per connection.
    var notedFaults: Set<String> = []

    /// A machine for the connection `id` from `SimWorld.openConnection`, applying `faults` from its start.
    /// `random` draws refs, ephemeral keys and signatures; seed it only in tests.
    public init(
        id: SimConnectionID,
        configuration: Configuration,
        faults: SimConnectionFaults = SimConnectionFaults(),
        random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
    ) {
        self.id = id
        self.configuration = configuration
        self.faults = faults
        self.random = InjectedRandom(random)
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
        case .answered(let answer, let now):
            return answered(answer, now: now)
        case .transportClosed:
            state = .closed
            return [.update(.connectionEnded)]
        }
    }

    // MARK: Handshake

    private mutating func connect(now: Date) -> [Action] {
        guard phase == .idle else {
            return []
        }
        if faults.refuse {
            return noteFault("refuse") + close()
        }
        state = .handshaking(Handshake(server: ServerHandshake(
            staticKey: configuration.staticKey,
            certificateChain: configuration.certificateChain,
            ephemeralKey: Curve25519KeyPair.generate(using: &random)
        )))
        return [.schedule(.handshake, after: configuration.handshakeTimeout)]
    }

    private mutating func handshakeFrame(_ frame: [UInt8], handshake: Handshake, now: Date) -> [Action] {
        var handshake = handshake
        switch handshake.step {
        case .awaitingClientHello:
            let hello: [UInt8]
            do {
                hello = try handshake.server.receiveClientHello(frame)
            } catch {
                return violationAndClose(.transport, "ClientHello refused (\(error))", now: now)
            }
            if faults.dropMidHandshake {
                return noteFault("drop_mid_handshake") + close()
            }
            if let delay = faults.handshakeDelay {
                // Our own patience starts again when ServerHello is out, or we would end the connection
                // before the client could notice the delay.
                handshake.step = .holdingServerHello(hello)
                state = .handshaking(handshake)
                return noteFault("handshake_delay") + [.cancel(.handshake), .schedule(.delayedServerHello, after: delay)]
            }
            handshake.step = .awaitingClientFinish
            state = .handshaking(handshake)
            return sendServerHello(hello)
        case .holdingServerHello:
            return violationAndClose(.wrongOrder, "a frame arrived before ServerHello was sent", now: now)
        case .awaitingClientFinish:
            let completion: ServerHandshake.Completion
            do {
                completion = try handshake.server.receiveClientFinish(frame)
            } catch {
                return violationAndClose(.transport, "ClientFinish refused (\(error))", now: now)
            }
            var actions: [Action] = [.cancel(.handshake)]
            switch completion.clientPayload.kind {
            case .registration(let keys, _, let deviceProps):
                actions.append(.update(.note(.handshakeCompleted(id, isRegistration: true))))
                actions += startRegistration(completion, keys: keys, os: deviceProps.os, now: now)
            case .login(let username, let device):
                actions.append(.update(.note(.handshakeCompleted(id, isRegistration: false))))
                actions += login(completion, username: username, device: device, now: now)
            }
            return actions
        }
    }

    private mutating func sendServerHello(_ hello: [UInt8]) -> [Action] {
        guard let message = try? stream.frame(hello) else {
            return close()
        }
        return [.write(message), .schedule(.handshake, after: configuration.handshakeTimeout)]
    }

    // MARK: Frames

    private mutating func receive(_ bytes: [UInt8], now: Date) -> [Action] {
        guard phase != .idle else {
            return []
        }
        do throws(FrameStreamError) {
            try stream.append(bytes)
        } catch {
            return violationAndClose(.transport, error.detail, now: now)
        }
        return readFrames(now: now)
    }

    /// Handles every complete frame received, one at a time (each may end the handshake, and so change
    /// how the next is read, or the connection); stops while the world's answer to a question is awaited.
    private mutating func readFrames(now: Date) -> [Action] {
        var actions: [Action] = []
        do throws(FrameStreamError) {
            reading: while awaiting == nil {
                switch state {
                case .handshaking(let handshake):
                    guard let frame = try stream.nextFrame() else {
                        break reading
                    }
                    actions += handshakeFrame(frame, handshake: handshake, now: now)
                case .connected(var connection):
                    let stanza = try stream.nextStanza(decryptingWith: &connection.transport)
                    state = .connected(connection)
                    switch stanza {
                    case .success(let node):
                        actions += handleNode(node, now: now)
                    case .failure(let error):
                        actions += record(.malformedStanza, "a stanza did not decode (\(error.code))", now: now)
                    case nil:
                        break reading
                    }
                case .idle, .closed:
                    break reading
                }
            }
        } catch {
            actions += violationAndClose(.transport, error.detail, now: now)
        }
        return actions
    }

    // MARK: Timers and deliveries

    private mutating func timerFired(_ timer: Timer, now: Date) -> [Action] {
        switch timer {
        case .handshake:
            return phase == .handshaking ? close() : []
        case .delayedServerHello:
            guard case .handshaking(var handshake) = state, case .holdingServerHello(let hello) = handshake.step else {
                return []
            }
            handshake.step = .awaitingClientFinish
            state = .handshaking(handshake)
            return sendServerHello(hello)
        case .refExpiry:
            return refExpired(now: now)
        case .pairingWindowClosed:
            guard let registration, registration.pairing == nil else {
                return []
            }
            return close()
        case .answer(let stanzaID):
            guard let expectation = connection?.expected.removeValue(forKey: stanzaID) else {
                return []
            }
            let missing = record(.missingAnswer, "no answer to \(expectation.what) (id \(stanzaID))", now: now)
            if case .pairSuccessReply = expectation {
                return missing + close()
            }
            return missing
        case .keepaliveAnswer(let pingID):
            return send(Node("iq", ["from": .server, "type": "result", "id": .string(pingID), "t": .string(Self.unix(now))]))
        case .ackDeadline:
            return ackDeadlineReached(now: now)
        case .readReceipts:
            return readReceiptsDue(now: now)
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
        case .stanza(let stanza):
            return deliverLive(stanza, now: now)
        case .fault(let fault):
            return apply(fault)
        }
    }

    private mutating func apply(_ fault: SimFault) -> [Action] {
        switch fault {
        case .streamError(let error):
            return noteFault(error.label, always: true) + send(error.node) + close()
        case .keepalive(let behaviour):
            faults.keepalive = behaviour
            notedFaults = notedFaults.filter { !$0.hasPrefix("keepalive_") }
            return []
        case .drop:
            return noteFault("drop", always: true) + close()
        }
    }

    // MARK: Questions to the world

    /// Asks the world and stops until the answer: `then` says what the answer is for.
    mutating func ask(_ question: SimWorld.Question, then step: Awaiting) -> [Action] {
        awaiting = step
        return [.ask(question)]
    }

    private mutating func answered(_ answer: SimWorld.Answer, now: Date) -> [Action] {
        guard let step = awaiting else {
            return []
        }
        awaiting = nil
        var actions: [Action]
        switch (step, answer) {
        case (.login(let jid), .login(let linked)):
            actions = loginAnswered(jid, linked: linked, now: now)
        case (.pairSuccess(let draft), .reservation(let reservation)):
            actions = reservationAnswered(draft, reservation: reservation, now: now)
        case (.codePairing(let offer), .codePairingOffered(let offered)):
            actions = codePairingAnswered(offer, offered: offered)
        case (.preKeyCount(let stanzaID), .availablePreKeys(let available)):
            actions = preKeyCountAnswered(stanzaID, available: available)
        case (.delivery, .queued(let queue)):
            actions = replay(queue, now: now)
        case (.preKeyFetch(let stanzaID, let devices), .bundles(let bundles)):
            actions = preKeyFetchAnswered(stanzaID, devices: devices, bundles: bundles)
        case (.messageAck, .messageAnswer(let answer)):
            actions = messageAnswered(answer, now: now)
        case (.usync(let stanzaID, let request), .deviceLists(let lists)):
            actions = usyncAnswered(stanzaID, request: request, lists: lists)
        case (.groupInfo(let stanzaID, let group), .groupInfo(let info)):
            actions = groupInfoAnswered(stanzaID, group: group, info: info, now: now)
        case (.readReceipts, .nextReadReceipt(let due)):
            actions = scheduleReadReceipts(due, now: now)
        default:
            // An answer to another question: the shell broke the contract; the step is dropped.
            actions = []
        }
        // Frames that arrived behind the one that asked.
        return actions + readFrames(now: now)
    }

    // MARK: Sending and bookkeeping

    mutating func nextID() -> String {
        idCounter += 1
        return String(idCounter)
    }

    mutating func send(_ node: Node) -> [Action] {
        guard case .connected(var connection) = state else {
            return []
        }
        let message: [UInt8]
        do {
            message = try stream.encrypt(node, with: &connection.transport)
        } catch {
            return close()
        }
        state = .connected(connection)
        return [.write(message)]
    }

    /// Waits for the client's answer to `stanzaID`.
    mutating func expect(_ expectation: Expectation, id stanzaID: String) -> [Action] {
        guard phase != .closed else {
            return []
        }
        connection?.expected[stanzaID] = expectation
        let deadline = if case .pairSuccessReply = expectation { configuration.pairSuccessDeadline } else { configuration.answerDeadline }
        return [.schedule(.answer(stanzaID), after: deadline)]
    }

    mutating func close() -> [Action] {
        guard phase != .closed else {
            return []
        }
        state = .closed
        awaiting = nil
        return [.update(.connectionEnded), .close]
    }

    /// A violation of the client's, attributed to its device (or the phone number it pairs for).
    func record(_ kind: SimViolation.Kind, _ detail: String, now: Date) -> [Action] {
        let who = device?.description ?? registration?.phoneNumber
        return [.update(.record(SimViolation(connection: id, device: who, kind: kind, detail: detail, at: now)))]
    }

    mutating func violationAndClose(_ kind: SimViolation.Kind, _ detail: String, now: Date) -> [Action] {
        record(kind, detail, now: now) + close()
    }

    mutating func noteFault(_ label: String, always: Bool = false) -> [Action] {
        guard always || notedFaults.insert(label).inserted else {
            return []
        }
        return [.update(.note(.faultApplied(id, label)))]
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
