import Foundation
import Testing
@testable import WAClient
import WASim
import WAWire

/// The server's half of a connection written by hand: it completes the handshake with a client machine,
/// then frames and encrypts whatever a test wants to send, and decodes what the client sent.
struct ScriptedServer {
    private var reader = FrameReader(intro: .required(allowsRoutingPrefix: false))
    private var handshake: ServerHandshake
    private var hasSentServerHello = false
    private(set) var transport: NoiseTransport?
    private(set) var payload: ParsedClientPayload?

    init(keys: TestServerKeys) {
        handshake = ServerHandshake(
            staticKey: keys.serverConfiguration.staticKey, certificateChain: keys.serverConfiguration.certificateChain
        )
    }

    /// Reads one message from the client: returns ServerHello to send back, or the stanzas it carried.
    mutating func read(_ bytes: [UInt8]) throws -> (reply: [UInt8]?, nodes: [Node]) {
        try reader.append(bytes)
        var reply: [UInt8]?
        var nodes: [Node] = []
        while let frame = try reader.nextFrame() {
            if var transport {
                nodes.append(try NodeDecoder().decode(frame: try transport.decrypt(frame)))
                self.transport = transport
            } else if !hasSentServerHello {
                reply = Self.framed(try handshake.receiveClientHello(frame))
                hasSentServerHello = true
            } else {
                let completion = try handshake.receiveClientFinish(frame)
                payload = completion.clientPayload
                transport = completion.transport
            }
        }
        return (reply, nodes)
    }

    /// One framed, encrypted stanza as the server would write it.
    mutating func frame(_ node: Node) throws -> [UInt8] {
        try frame(plaintext: try NodeEncoder.encode(node))
    }

    /// Frames and encrypts any plaintext (flags byte and node bytes), well-formed or not.
    mutating func frame(plaintext: [UInt8]) throws -> [UInt8] {
        guard var transport else {
            throw NoiseError(.outOfOrder)
        }
        let body = try transport.encrypt(plaintext)
        self.transport = transport
        return Self.framed(Array(body))
    }

    static func framed(_ body: [UInt8]) -> [UInt8] {
        [UInt8(truncatingIfNeeded: body.count >> 16), UInt8(truncatingIfNeeded: body.count >> 8),
         UInt8(truncatingIfNeeded: body.count)] + body
    }
}

/// A client machine against a `ScriptedServer`, with a manual clock and a record of what it did.
/// A value type, so a test can keep a copy of a connected session and start over from it.
struct ScriptedSession {
    var machine: ClientSessionMachine
    var server: ScriptedServer
    var now = Conversation.start
    var events: [ClientEvent] = []
    /// Stanzas the client sent after the handshake, decoded.
    var sent: [Node] = []
    var timers: [ClientSessionMachine.Timer: Date] = [:]
    var confirmations: [DeviceCredentials] = []
    var completions: [ClientRequestID: Result<Node, ClientRequestError>] = [:]
    /// Results of `ClientRequest.send`: whether the answers were written.
    var sends: [ClientRequestID: Result<Void, ClientRequestError>] = [:]
    var closeReason: DisconnectReason?

    /// A session whose handshake has completed (unless the machine refused to start).
    init(
        intent: ConnectionIntent,
        credentials: DeviceCredentials,
        keys: TestServerKeys = TestServerKeys(),
        configuration: ClientSessionMachine.Configuration? = nil,
        seed: UInt64 = 1
    ) throws {
        machine = ClientSessionMachine(
            credentials: credentials, intent: intent, configuration: configuration ?? keys.clientConfiguration(),
            random: SeededRandom(seed: seed)
        )
        server = ScriptedServer(keys: keys)
        try run(machine.handle(.connected(now: now)))
    }

    /// A paired device's credentials, as a login needs them (the account identity is not checked by a login).
    static func pairedCredentials(seed: UInt64 = 3) -> DeviceCredentials {
        var random = SeededRandom(seed: seed)
        var credentials = DeviceCredentials.generate(using: &random)
        credentials.account = PairedAccount(
            jid: "15551234567:3@s.whatsapp.net", lid: nil, platform: "android", businessName: nil,
            signedIdentity: [], keyIndex: 1
        )
        return credentials
    }

    var isClosed: Bool { closeReason != nil }

    var eventNames: [String] {
        events.map { "\($0)".prefix { $0 != "(" }.description }
    }

    /// The stanza the server sends next.
    mutating func receive(_ node: Node) throws {
        try receive(bytes: try server.frame(node))
    }

    /// Raw bytes, as one WebSocket message.
    mutating func receive(bytes: [UInt8]) throws {
        try run(machine.handle(.received(bytes, now: now)))
    }

    mutating func fire(_ timer: ClientSessionMachine.Timer) throws {
        if let deadline = timers[timer] {
            now = max(now, deadline)
        }
        timers[timer] = nil
        try run(machine.handle(.timerFired(timer, now: now)))
    }

    mutating func input(_ input: ClientSessionMachine.Input) throws {
        try run(machine.handle(input))
    }

    /// Applies actions; handshake writes are answered by the scripted server at once.
    mutating func run(_ actions: [ClientSessionMachine.Action]) throws {
        var queue = actions[...]
        while let action = queue.popFirst() {
            switch action {
            case .write(let bytes):
                guard closeReason == nil else {
                    continue
                }
                let (reply, nodes) = try server.read(bytes)
                sent += nodes
                if let reply {
                    queue += machine.handle(.received(reply, now: now))
                }
            case .emit(let event):
                events.append(event)
            case .confirmPairing(let credentials):
                confirmations.append(credentials)
            case .keepaliveRoundTrip:
                break
            case .schedule(let timer, let after):
                timers[timer] = now.addingTimeInterval(after.seconds)
            case .cancel(let timer):
                timers[timer] = nil
            case .complete(let id, let result):
                completions[id] = result
            case .sent(let id, let result):
                sends[id] = result
            case .close(let reason):
                closeReason = reason
                timers = [:]
            }
        }
    }

    /// The IQ the client sent last with this xmlns.
    func lastIQ(xmlns: String) -> Node? {
        sent.last { $0.tag == "iq" && $0.attribute("xmlns") == xmlns }
    }
}

/// Server stanzas of every kind the client handles, for fuzzing and malformed-input tests.
enum ServerStanzas {
    static let server = AttributeValue.server

    static func pairDevice(refs: Int = 6, id: String = "1001") -> Node {
        Node("iq", ["from": server, "type": "set", "id": .string(id), "xmlns": "md"], [
            Node("pair-device", (0..<refs).map { Node("ref", bytes: Array("2@ref\($0)AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".utf8)) }),
        ])
    }

    static func result(id: String, _ children: [Node] = []) -> Node {
        Node("iq", ["from": server, "type": "result", "id": .string(id)], children)
    }

    static var corpus: [Node] {
        [
            pairDevice(),
            Node("iq", ["from": server, "type": "set", "id": "2002", "t": "1760000000"], [
                Node("pair-success", [
                    Node("device-identity", bytes: [0x0A, 0x04, 1, 2, 3, 4, 0x12, 0x20] + [UInt8](repeating: 9, count: 32)),
                    Node("platform", ["name": "android"]),
                    Node("device", ["jid": .jid(JID(user: "15551234567", device: 4, server: .whatsApp)),
                                    "lid": .jid(JID(user: "99887766", device: 4, server: .lid))]),
                    Node("biz", ["name": "Shop"]),
                ]),
            ]),
            Node("notification", ["from": server, "type": "companion_reg_refresh", "id": "3003"], [Node("companion_reg_refresh")]),
            Node("notification", ["from": server, "type": "link_code_companion_reg", "id": "3004"], [
                Node("link_code_companion_reg", ["stage": "primary_hello"], [
                    Node("link_code_pairing_ref", bytes: Array("2@abc".utf8)),
                    Node("link_code_pairing_wrapped_primary_ephemeral_pub", bytes: [UInt8](repeating: 1, count: 80)),
                    Node("primary_identity_pub", bytes: [UInt8](repeating: 2, count: 32)),
                ]),
            ]),
            Node("notification", ["from": server, "type": "encrypt", "id": "3005"], [Node("count", ["value": "2"])]),
            Node("success", ["t": "1760000100", "lid": .jid(JID(user: "99887766", device: 3, server: .lid)), "location": "fra"]),
            Node("failure", ["reason": "402", "code": "101", "expire": "86400"]),
            Node("stream:error", ["code": "515"]),
            Node("stream:error", [Node("conflict", ["type": "replaced"])]),
            Node("stream:error", ["code": "401"], [Node("conflict", ["type": "device_removed"])]),
            Node("iq", ["from": server, "type": "get", "xmlns": "urn:xmpp:ping", "id": "4004"]),
            Node("iq", ["from": server, "type": "result", "id": "1.2-1"], [Node("count", ["value": "0"])]),
            Node("iq", ["from": server, "type": "error", "id": "1.2-2"], [Node("error", ["code": "500", "text": "x"])]),
            Node("ib", [Node("offline", ["count": "3"])]),
            Node("xmlstreamend"),
            Node("message", ["from": .jid(JID(user: "1555", server: .whatsApp)), "id": "m1"], bytes: [1, 2, 3]),
        ]
    }
}
