import Foundation
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// A hand-written client against one `SimConnectionMachine`: it completes the handshake with a registration or
/// login payload, then sends whatever a test wants and decodes what the simulator sent. It is also the
/// machine's shell: it applies the machine's updates to `world` and answers its questions from it, or,
/// to test the machine alone, answers from a script and only collects the updates.
struct ScriptedClient {
    var machine: SimConnectionMachine
    /// Where the updates go and the questions are answered; nil when `answers` answers.
    let world: SimWorld?
    private let answers: (SimWorld.Question) -> SimWorld.Answer
    let inbox: DeliveryInbox
    let credentials: DeviceCredentials
    var now = Conversation.start
    /// Stanzas the simulator sent, decoded.
    var received: [Node] = []
    /// Every update and question of the machine, in order.
    var updates: [SimWorld.Update] = []
    var questions: [SimWorld.Question] = []
    var timers: [SimConnectionMachine.Timer: Date] = [:]
    var isClosed = false
    private var handshake: ClientHandshake?
    private(set) var transport: NoiseTransport?
    private var reader = FrameReader()
    private var writer = FrameWriter()

    /// Connects `credentials` to `world`: a login when they are paired, a registration otherwise.
    init(
        world: SimWorld,
        credentials: DeviceCredentials,
        keys: TestServerKeys = TestServerKeys(),
        configuration: SimConnectionMachine.Configuration? = nil,
        faults: SimConnectionFaults = SimConnectionFaults(),
        seed: UInt64 = 21
    ) throws {
        let inbox = DeliveryInbox()
        let ticket = world.openConnection { inbox.append($0) }
        try self.init(
            id: ticket.id, world: world, answers: { world.answer($0, from: ticket.id) }, inbox: inbox,
            credentials: credentials, keys: keys, configuration: configuration, faults: faults, seed: seed
        )
    }

    /// Connects `credentials` to a machine with no world behind it: `answers` answers its questions.
    init(
        answering answers: @escaping (SimWorld.Question) -> SimWorld.Answer,
        credentials: DeviceCredentials,
        keys: TestServerKeys = TestServerKeys(),
        seed: UInt64 = 21
    ) throws {
        try self.init(
            id: SimConnectionID(1), world: nil, answers: answers, inbox: DeliveryInbox(),
            credentials: credentials, keys: keys, configuration: nil, faults: SimConnectionFaults(), seed: seed
        )
    }

    private init(
        id: SimConnectionID, world: SimWorld?, answers: @escaping (SimWorld.Question) -> SimWorld.Answer, inbox: DeliveryInbox,
        credentials: DeviceCredentials, keys: TestServerKeys, configuration: SimConnectionMachine.Configuration?,
        faults: SimConnectionFaults, seed: UInt64
    ) throws {
        self.world = world
        self.answers = answers
        self.inbox = inbox
        self.credentials = credentials
        machine = SimConnectionMachine(
            id: id, configuration: configuration ?? keys.serverConfiguration, faults: faults,
            random: SeededRandom(seed: seed)
        )
        let payload: WAClientPayload
        if let account = credentials.account, let jid = JID(parsing: account.jid), let username = UInt64(jid.user) {
            payload = ClientPayloadBuilder().loginPayload(username: username, device: UInt32(jid.device))
        } else {
            payload = try ClientPayloadBuilder().registrationPayload(keys: Self.registrationKeys(credentials))
        }
        var handshake = ClientHandshake(
            noiseKey: try Curve25519KeyPair(privateKey: credentials.noiseKey), payload: payload,
            trustedRootKey: keys.root.publicKey
        )
        let hello = try writer.encode(try handshake.start())
        self.handshake = handshake
        try run(machine.handle(.connected(now: now)))
        try run(machine.handle(.received(hello, now: now)))
    }

    static func registrationKeys(_ credentials: DeviceCredentials) throws -> RegistrationKeys {
        RegistrationKeys(
            registrationID: credentials.registrationID,
            identityKey: try Curve25519KeyPair(privateKey: credentials.identityKey).publicKey,
            signedPreKeyID: credentials.signedPreKeyID,
            signedPreKey: try Curve25519KeyPair(privateKey: credentials.signedPreKey).publicKey,
            signedPreKeySignature: credentials.signedPreKeySignature
        )
    }

    var noisePublicKey: [UInt8] { (try? Curve25519KeyPair(privateKey: credentials.noiseKey).publicKey) ?? [] }
    var identity: Curve25519KeyPair { try! Curve25519KeyPair(privateKey: credentials.identityKey) }

    /// Encrypts and sends one stanza.
    mutating func send(_ node: Node) throws {
        try send(plaintext: try NodeEncoder.encode(node))
    }

    /// Encrypts and sends any plaintext (flags byte and node bytes), well-formed or not.
    mutating func send(plaintext: [UInt8]) throws {
        guard var transport else {
            throw NoiseError(.outOfOrder)
        }
        let body = try transport.encrypt(plaintext)
        self.transport = transport
        try send(bytes: try writer.encode(body))
    }

    /// Encrypts `nodes` and sends them as one WebSocket message, frame after frame.
    mutating func send(messageOf nodes: [Node]) throws {
        guard var transport else {
            throw NoiseError(.outOfOrder)
        }
        var message: [UInt8] = []
        for node in nodes {
            message += try writer.encode(try transport.encrypt(try NodeEncoder.encode(node)))
        }
        self.transport = transport
        try send(bytes: message)
    }

    mutating func send(bytes: [UInt8]) throws {
        try run(machine.handle(.received(bytes, now: now)))
    }

    /// Moves the clock to `timer`'s deadline and fires it.
    mutating func fire(_ timer: SimConnectionMachine.Timer) throws {
        if let deadline = timers.removeValue(forKey: timer) {
            now = max(now, deadline)
        }
        try run(machine.handle(.timerFired(timer, now: now)))
    }

    /// Feeds everything the world delivered to this connection.
    mutating func deliverInbox() throws {
        for delivery in inbox.drain() {
            try run(machine.handle(.delivered(delivery, now: now)))
        }
    }

    /// The QR the client would show for the ref the simulator has on screen.
    func qr(refIndex: Int = 0, advSecret: [UInt8]? = nil) throws -> String {
        let refs = try #require(received.first { $0.child("pair-device") != nil }?.child("pair-device")?.children)
        return try PairingQR(
            ref: String(decoding: try #require(refs[refIndex].bytes), as: UTF8.self),
            noisePublicKey: noisePublicKey, identityPublicKey: identity.publicKey,
            advSecret: advSecret ?? credentials.advSecret, platform: .otherWebClient
        ).string
    }

    /// The last stanza received with this tag.
    func last(_ tag: String) -> Node? {
        received.last { $0.tag == tag }
    }

    mutating func run(_ actions: [SimConnectionMachine.Action]) throws {
        for action in actions {
            switch action {
            case .write(let bytes):
                try read(bytes)
            case .schedule(let timer, let after):
                timers[timer] = now.addingTimeInterval(after.seconds)
            case .cancel(let timer):
                timers[timer] = nil
            case .update(let update):
                updates.append(update)
                world?.apply(update, from: machine.id)
            case .ask(let question):
                questions.append(question)
                try run(machine.handle(.answered(answers(question), now: now)))
            case .close:
                isClosed = true
                timers = [:]
            }
        }
    }

    private mutating func read(_ bytes: [UInt8]) throws {
        try reader.append(bytes)
        while let frame = try reader.nextFrame() {
            if var transport {
                received.append(try NodeDecoder().decode(frame: try transport.decrypt(frame)))
                self.transport = transport
            } else if var handshake {
                let completion = try handshake.receiveServerHello(frame, now: UInt64(now.timeIntervalSince1970))
                self.handshake = nil
                transport = completion.transport
                try run(machine.handle(.received(try writer.encode(completion.clientFinish), now: now)))
            }
        }
    }
}

extension ScriptedClient {
    /// The violations the machine reported, in order.
    var violations: [SimViolation] {
        updates.compactMap { if case .record(let violation) = $0 { violation } else { nil } }
    }
}

extension SimWorld {
    /// The violation kinds recorded so far, in order.
    var violationKinds: [SimViolation.Kind] {
        violations.map(\.kind)
    }
}
