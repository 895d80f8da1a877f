import Foundation
import Testing
@testable import WAClient
@testable import WASim
import WAWire

/// A hand-written client against one `SimConnectionMachine`: it completes the handshake with a registration or
/// login payload, then sends whatever a test wants and decodes what the simulator sent.
struct ScriptedClient {
    var machine: SimConnectionMachine
    let inbox: DeliveryInbox
    let credentials: DeviceCredentials
    var now = Conversation.start
    /// Stanzas the simulator sent, decoded.
    var received: [Node] = []
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
        self.inbox = inbox
        self.credentials = credentials
        machine = SimConnectionMachine(
            id: ticket.id, world: world, configuration: configuration ?? keys.serverConfiguration, faults: faults,
            random: TestRandom(seed: seed)
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
                timers[timer] = now.addingTimeInterval(Conversation.seconds(after))
            case .cancel(let timer):
                timers[timer] = nil
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

extension SimWorld {
    /// The violation kinds recorded so far, in order.
    var violationKinds: [SimViolation.Kind] {
        violations.map(\.kind)
    }
}
