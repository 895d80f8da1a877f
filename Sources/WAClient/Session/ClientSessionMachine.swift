import Foundation
import WAWire

/// The companion's protocol logic for one upstream connection, as a pure state machine: the shell feeds it
/// WebSocket messages, timer firings and API calls, and executes the actions it returns.
///
/// It owns framing and the Noise transport: `.received` takes the raw bytes of one binary WebSocket message
/// and `.write` returns the raw bytes of one. Rules for the shell:
/// - timers are named; scheduling a name that is already scheduled replaces it, `.cancel` of an unknown name
///   is a no-op; after `.close` every timer can be dropped and later inputs are ignored (API requests are
///   answered `connectionClosed`);
/// - `.close` comes once, right after the terminal event (`.disconnected` or `.loggedOut`) was emitted;
///   write everything before it, then close the socket;
/// - `.confirmPairing(credentials)` becomes `ClientEvent.pairSuccess` with a `PairingConfirmation` whose
///   answer is fed back as `.pairingConfirmed`.
public struct ClientSessionMachine: Sendable {
    /// Everything tunable about the session; durations default to whatsmeow's.
    public struct Configuration: Sendable {
        /// The key that must sign the server's intermediate certificate (a simulator's root in tests).
        public var trustedRootKey: [UInt8] = CertificateChain.whatsAppRootKey
        /// What the ClientPayload claims; `payload.version` is the WhatsApp Web version failure 405 names.
        public var payload = ClientPayloadBuilder()
        /// The QR string's last field.
        public var qrPlatform: PairingPlatform = .otherWebClient
        /// companion_hello's platform id and display; the server refuses a display that is not "Browser (OS)".
        public var codePairingPlatform: PairingPlatform = .chrome
        public var codePairingDisplay = "Chrome (Linux)"
        public var timeouts = Timeouts()
        public var keepalive = Keepalive()
        public var preKeys = PreKeyPolicy()

        public init() {}
    }

    /// How long each step may take.
    public struct Timeouts: Sendable, Hashable {
        /// From sending ClientHello until ServerHello (whatsmeow: 20 s).
        public var handshake: Duration = .seconds(20)
        /// An IQ without its own timeout (whatsmeow: 75 s).
        public var request: Duration = .seconds(75)
        /// How long the first QR code is shown.
        public var firstQR: Duration = .seconds(60)
        /// How long each later QR code is shown.
        public var laterQR: Duration = .seconds(20)

        public init() {}
    }

    /// Keepalive pings (`w:p`): a random interval in `[minimumInterval, maximumInterval)` before each ping.
    public struct Keepalive: Sendable, Hashable {
        public var minimumInterval: Duration = .seconds(20)
        public var maximumInterval: Duration = .seconds(30)
        /// A ping without an answer by then counts as failed.
        public var responseDeadline: Duration = .seconds(10)
        /// With no successful ping for longer than this, the connection is closed (`keepaliveLost`).
        public var maximumFailureTime: Duration = .seconds(180)

        public init() {}
    }

    /// How many one-time prekeys to keep on the server.
    public struct PreKeyPolicy: Sendable, Hashable {
        /// Uploaded on the first login, when neither side has any.
        public var initialUpload = 812
        /// Uploaded when the server holds fewer than `minimumOnServer`.
        public var refill = 50
        public var minimumOnServer = 5

        public init() {}
    }

    /// What happened, as the shell tells it.
    public enum Input: Sendable {
        /// The WebSocket is open; the machine sends the connection header and ClientHello.
        case connected(now: Date)
        /// The bytes of one binary WebSocket message from the server.
        case received([UInt8], now: Date)
        case timerFired(Timer, now: Date)
        /// An API call; answered by `Action.complete` with the same id.
        case request(ClientRequestID, ClientRequest)
        /// The consumer's answer to `Action.confirmPairing`.
        case pairingConfirmed(PairingDecision, now: Date)
        /// The socket closed without us asking.
        case transportClosed
        /// End the connection on purpose (shutdown, reset, lease lost).
        case close(DisconnectReason)
    }

    /// The consumer's answer after persisting pair-success's credentials.
    public enum PairingDecision: Sendable, Hashable {
        case accepted
        /// Persisting failed; `detail` is safe to show.
        case rejected(detail: String)
    }

    /// What the shell must do, in order.
    public enum Action: Sendable {
        /// Send the bytes as one binary WebSocket message.
        case write([UInt8])
        case emit(ClientEvent)
        /// Persist `credentials` durably, then feed `.pairingConfirmed`; the shell emits them as
        /// `ClientEvent.pairSuccess` with a `PairingConfirmation`.
        case confirmPairing(DeviceCredentials)
        /// A keepalive ping was answered after this long: for metrics, on the connection's own
        /// thread (not an event: a ping a minute per device must not cost a hop to the consumer).
        case keepaliveRoundTrip(Duration)
        case schedule(Timer, after: Duration)
        case cancel(Timer)
        /// The answer to an API call.
        case complete(ClientRequestID, Result<Node, ClientRequestError>)
        /// A `ClientRequest.send` was written (after its writes), or could not be.
        case sent(ClientRequestID, Result<Void, ClientRequestError>)
        /// Close the socket after the writes before it; the terminal event was just emitted.
        case close(DisconnectReason)
    }

    /// The machine's timers.
    public enum Timer: Hashable, Sendable {
        /// ServerHello did not come in time.
        case handshake
        /// The QR on screen expired; show the next ref's.
        case qrRotation
        /// Time for the next keepalive ping.
        case keepalive
        /// The IQ with this id got no answer in time.
        case request(String)
    }

    /// Where the connection is, as observers see it; `state` holds what each point needs.
    public enum Phase: Sendable, Hashable {
        /// Not connected yet.
        case idle
        /// ClientHello sent, waiting for ServerHello.
        case handshaking
        /// Registered; pair-device, QR codes or the code flow, pair-success and its confirmation.
        case pairing
        /// Logged in, waiting for `<success>` or `<failure>`.
        case loggingIn
        /// `<success>` came; prekeys and the passive IQ are under way.
        case preparing
        case online
        case closed
    }

    /// The credentials as they are now: pair-success fills `account`, ADV rotation replaces `advSecret`,
    /// prekey uploads move `nextPreKeyID`.
    public internal(set) var credentials: DeviceCredentials
    public let intent: ConnectionIntent
    /// Where the connection is, with that point's data (ClientSessionMachine+State.swift).
    var state = State.idle

    let configuration: Configuration
    var random: InjectedRandom
    var stream = FrameStream(side: .client)
    let idPrefix: String
    var idCounter: UInt64 = 0
    /// The server's clock minus ours, from pair-success or `<success>`.
    var serverTimeOffset: Duration = .zero

    /// A machine for one connection of the device with `credentials`. `random` draws ephemeral keys, ADV
    /// secrets, link codes, request ids and keepalive jitter; pass a seeded generator only in tests.
    public init(
        credentials: DeviceCredentials,
        intent: ConnectionIntent,
        configuration: Configuration = Configuration(),
        random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
    ) {
        self.credentials = credentials
        self.intent = intent
        self.configuration = configuration
        self.random = InjectedRandom(random)
        let first = UInt8.random(in: 0...255, using: &self.random)
        let second = UInt8.random(in: 0...255, using: &self.random)
        idPrefix = "\(first).\(second)-"
    }

    public mutating func handle(_ input: Input) -> [Action] {
        switch input {
        case .request(let id, let request):
            return handleRequest(id, request)
        case _ where phase == .closed:
            // After the close only API calls get an answer (connectionClosed); everything else is late news.
            return []
        case .connected(let now):
            return connect(now: now)
        case .received(let bytes, let now):
            return receive(bytes, now: now)
        case .timerFired(let timer, let now):
            return timerFired(timer, now: now)
        case .pairingConfirmed(let decision, let now):
            return pairingConfirmed(decision, now: now)
        case .transportClosed:
            return terminate(closedByPeerReason())
        case .close(let reason):
            return terminate(reason)
        }
    }

    // MARK: Frames

    /// Reads every complete frame of the stream, one at a time: each may end the handshake (and so
    /// change how the next is read) or the connection.
    private mutating func receive(_ bytes: [UInt8], now: Date) -> [Action] {
        guard phase != .idle else {
            return []
        }
        var actions: [Action] = []
        do throws(FrameStreamError) {
            try stream.append(bytes)
            reading: while true {
                switch state {
                case .handshaking(let handshake):
                    guard let frame = try stream.nextFrame() else {
                        break reading
                    }
                    actions += serverHello(frame, handshake: handshake, now: now)
                case .connected(var connection):
                    let stanza: Result<Node, NodeError>?
                    do {
                        stanza = try stream.nextStanza(decryptingWith: &connection.transport)
                    } catch let error where error.code == .undecryptable && !connection.lastFrameUndecryptable {
                        // whatsmeow drops a frame that does not decrypt and reads on with the next
                        // counter. One such frame may be a sender's slip; a second in a row means the
                        // counters disagree, and the error below ends the connection (a new handshake
                        // starts them over) rather than leave it deaf until keepalives notice.
                        connection.transport.skipReceivedFrame()
                        connection.lastFrameUndecryptable = true
                        state = .connected(connection)
                        continue reading
                    }
                    if stanza != nil {
                        connection.lastFrameUndecryptable = false
                    }
                    state = .connected(connection)
                    guard let stanza else {
                        break reading
                    }
                    // whatsmeow drops a stanza it cannot decode and carries on; so do we.
                    if case .success(let node) = stanza {
                        actions += handleNode(node, now: now)
                    }
                case .idle, .closed:
                    break reading
                }
            }
        } catch {
            // Unreadable framing, or a second frame in a row that does not decrypt: nothing after it can be read.
            let stage: DisconnectReason.Stage = phase == .handshaking && error.code == .unreadableFraming ? .noise : .stream
            actions += terminate(violation(stage: stage, error.detail))
        }
        return actions
    }

    private mutating func handleNode(_ node: Node, now: Date) -> [Action] {
        switch node.tag {
        case "iq":
            return handleIQ(node, now: now)
        case "message", "receipt":
            return handStanzaOver(node)
        case "ack" where node.attribute("class") == "message":
            // The server's answer to a message we sent (messaging.md §8.5): the sender records it.
            return handStanzaOver(node)
        case "notification":
            return handleNotification(node, now: now)
        case "call", "status", "appdata":
            // Calls are acked only (this device takes no part); a status that is not a newsletter's is
            // acked only (whatsmeow); appdata is not read here (messaging.md §2.1, §3.1).
            return acknowledge(node)
        case "success":
            return handleSuccess(node, now: now)
        case "failure":
            let reason = DisconnectClassification.failure(node, now: now, webVersion: configuration.payload.version)
            return terminate(reason)
        case "stream:error":
            return terminate(DisconnectClassification.streamError(node))
        case "xmlstreamend":
            return terminate(DisconnectReason(stage: .stream, category: .network, detail: "the server ended the stream"))
        default:
            return []
        }
    }

    private mutating func handleIQ(_ node: Node, now: Date) -> [Action] {
        switch node.attribute("type") {
        case "result", "error":
            return handleResponse(node, now: now)
        case "get":
            let xmlns = node.attribute("xmlns")
            guard xmlns == "urn:xmpp:ping" || xmlns == "w:p", let id = node.attribute("id") else {
                return []
            }
            return send(Node("iq", ["to": replyAddress(node), "type": "result", "id": .string(id)]))
        case "set":
            // Pairing stanzas come from the server itself (whatsmeow checks the same), never relayed.
            let fromServer = Self.jid(node, "from") == JID.serverJID
            if node.child("pair-device") != nil {
                return fromServer ? handlePairDevice(node, now: now) : []
            }
            if node.child("pair-success") != nil {
                return fromServer ? handlePairSuccess(node, now: now) : []
            }
            return []
        default:
            return []
        }
    }

    private mutating func handleNotification(_ node: Node, now: Date) -> [Action] {
        switch node.attribute("type") {
        case "companion_reg_refresh":
            return handleRegistrationRefresh(node, now: now)
        case "link_code_companion_reg":
            return handlePrimaryHello(node, now: now)
        case "encrypt" where node.child("identity") != nil && node.child("count") == nil:
            return handStanzaOver(node)
        case "encrypt":
            return acknowledge(node) + handlePreKeyNotification(node)
        case "devices", "account_sync":
            return handStanzaOver(node)
        default:
            return acknowledge(node)
        }
    }

    /// A stanza whose answer needs the consumer's stored state goes to the consumer, which answers it
    /// with `ClientRequest.send`. Before login there is no such state: it is acked, and a message or
    /// receipt (which no server sends then) is dropped.
    private mutating func handStanzaOver(_ node: Node) -> [Action] {
        guard session != nil else {
            return node.tag == "notification" ? acknowledge(node) : []
        }
        return [.emit(.stanza(node))]
    }

    private mutating func timerFired(_ timer: Timer, now: Date) -> [Action] {
        switch timer {
        case .handshake:
            guard phase == .handshaking else {
                return []
            }
            return terminate(DisconnectReason(stage: .noise, category: .timeout, detail: "no ServerHello in time"))
        case .qrRotation:
            return rotateQR(now: now)
        case .keepalive:
            return sendKeepalive(now: now)
        case .request(let id):
            guard let iq = connection?.pending.removeValue(forKey: id) else {
                return []
            }
            return complete(iq, with: .timeout, now: now)
        }
    }

    // MARK: Sending

    /// The next IQ id of this connection: a random prefix and a counter, as whatsmeow makes them.
    mutating func nextID() -> String {
        idCounter += 1
        return idPrefix + String(idCounter)
    }

    /// Encrypts and frames `node`; the connection ends if that is impossible (a used-up counter, a node we cannot encode).
    mutating func send(_ node: Node) -> [Action] {
        do {
            return [.write(try encrypted(node))]
        } catch {
            return terminate(DisconnectReason(stage: .local, category: .other, detail: "cannot send \(node.tag) (\(error))"))
        }
    }

    mutating func encrypted(_ node: Node) throws -> [UInt8] {
        guard case .connected(var connection) = state else {
            throw NoiseError(.outOfOrder)
        }
        defer { state = .connected(connection) }
        return try stream.encrypt(node, with: &connection.transport)
    }

    /// The WebSocket message carrying an already encoded stanza.
    mutating func encrypted(encoded body: [UInt8]) throws -> [UInt8] {
        guard case .connected(var connection) = state else {
            throw NoiseError(.outOfOrder)
        }
        defer { state = .connected(connection) }
        return try stream.frame(try connection.transport.encrypt(body))
    }

    /// Sends an IQ with a fresh id, remembers why, and times it out after `timeout`.
    mutating func sendIQ(_ node: Node, for purpose: PendingIQ, timeout: Duration? = nil) -> [Action] {
        var node = node
        let id = nextID()
        node.attributes["id"] = .string(id)
        if node.attributes["to"] == nil {
            node.attributes["to"] = .server
        }
        let actions = send(node)
        guard phase != .closed else {
            return actions
        }
        connection?.pending[id] = purpose
        return actions + [.schedule(.request(id), after: timeout ?? configuration.timeouts.request)]
    }

    /// The `to` of an answer: the stanza's `from`, kept JID-typed when it was.
    func replyAddress(_ node: Node) -> AttributeValue {
        node.attributes["from"] ?? .server
    }

    /// Acknowledges a stanza with its envelope copied verbatim (`StanzaEnvelope.ack`, messaging.md §3.2):
    /// class = tag, id, to = from, participant, recipient, and type except for messages.
    mutating func acknowledge(_ node: Node) -> [Action] {
        guard node.attributes["id"] != nil else {
            return []
        }
        return send(StanzaEnvelope(node).ack())
    }

    // MARK: Ending

    /// Ends the connection once: answers waiting API calls, emits the terminal event, then asks for the close.
    mutating func terminate(_ reason: DisconnectReason) -> [Action] {
        guard phase != .closed else {
            return []
        }
        var actions: [Action] = []
        for (_, iq) in (connection?.pending ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let request = iq.apiRequest {
                actions.append(.complete(request, .failure(ClientRequestError(.connectionClosed))))
            }
        }
        state = .closed
        stream = FrameStream(side: .client)
        actions.append(.emit(reason.category == .loggedOut ? .loggedOut(reason) : .disconnected(reason)))
        actions.append(.close(reason))
        return actions
    }

    func violation(stage: DisconnectReason.Stage, _ detail: String) -> DisconnectReason {
        DisconnectReason(stage: stage, category: .protocolViolation, detail: detail)
    }

    private func closedByPeerReason() -> DisconnectReason {
        switch phase {
        case .idle, .handshaking:
            DisconnectReason(stage: .noise, category: .network, detail: "the socket closed during the handshake")
        default:
            DisconnectReason(stage: .stream, category: .network, detail: "the socket closed")
        }
    }
}
