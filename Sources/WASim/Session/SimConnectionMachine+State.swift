import WAWire

extension SimConnectionMachine {
    /// Where the connection is, carrying exactly what that point needs: the handshake's progress until
    /// ClientFinish, then the transport and the registration or login.
    enum State: Sendable {
        case idle
        case handshaking(Handshake)
        /// The transport is up: a registration, a login being decided, or a logged-in device.
        case connected(Connection)
        case closed
    }

    /// The server's side of the Noise handshake, and which message it waits for.
    struct Handshake: Sendable {
        enum Step: Sendable {
            case awaitingClientHello
            /// ServerHello is ready but held back (the handshake_delay fault); a frame now is out of order.
            case holdingServerHello([UInt8])
            case awaitingClientFinish
        }

        var server: ServerHandshake
        var step = Step.awaitingClientHello
    }

    /// A connection past its handshake: what every stage shares, and the stage.
    struct Connection: Sendable {
        /// The Noise transport keys and counters.
        var transport: NoiseTransport
        /// The client's Noise static key, from the handshake.
        let clientStaticKey: [UInt8]
        var stage: Stage
        /// Answers and acks the client owes, by stanza id.
        var expected: [String: Expectation] = [:]
    }

    /// What the client came for, with that stage's data.
    enum Stage: Sendable {
        /// A registration: refs, scans, code pairing, pair-success.
        case registered(Registration)
        /// A login payload came; the world's answer decides (`Awaiting.login`).
        case loggingIn
        /// A linked device logged in.
        case loggedIn(LoginSession)
    }

    /// A step waiting for the world's answer to a `SimWorld.Question`, with what it needs to go on.
    enum Awaiting: Sendable {
        /// `.login`: `<success>` or `<failure>` for this device.
        case login(JID)
        /// `.reserveDevice`: pair-success for the phone, once it has a device number.
        case pairSuccess(PairSuccessDraft)
        /// `.offerCodePairing`: the answer to companion_hello.
        case codePairing(CodePairingOffer)
        /// `.availablePreKeys`: the answer to the count query with this id.
        case preKeyCount(stanzaID: String)
        /// `.startDelivery`: the queue to replay once the device is logged in.
        case delivery
        /// `.preKeyBundles`: the answer to the prekey fetch with this id, for these devices in order.
        case preKeyFetch(stanzaID: String, devices: [JID])
        /// `.deviceMessage`: the server's ack for the device's message.
        case messageAck
        /// `.deviceLists`: the answer to the usync query with this id.
        case usync(stanzaID: String, request: USyncRequest)
        /// `.groupInfo`: the answer to the group-info query with this id.
        case groupInfo(stanzaID: String, group: AttributeValue)
        /// `.readReceipts`: when the next read receipt is due.
        case readReceipts
    }

    public var phase: Phase {
        switch state {
        case .idle: .idle
        case .handshaking: .handshaking
        case .connected(let connection):
            switch connection.stage {
            case .registered: .registered
            case .loggingIn: .loggingIn
            case .loggedIn: .loggedIn
            }
        case .closed: .closed
        }
    }

    // MARK: Views of the connected state
    // Handlers read and write the connection's parts through these: reading outside `.connected`
    // (or outside the part's stage) gives nil, writing there does nothing, so a handler cannot bring
    // back a connection that ended while it ran.

    /// The connection, from the handshake's end until the close.
    var connection: Connection? {
        get {
            guard case .connected(let connection) = state else {
                return nil
            }
            return connection
        }
        set {
            guard let newValue, case .connected = state else {
                return
            }
            state = .connected(newValue)
        }
    }

    /// The registration, while registered.
    var registration: Registration? {
        get {
            guard case .registered(let registration) = connection?.stage else {
                return nil
            }
            return registration
        }
        set {
            guard let newValue, case .registered = connection?.stage else {
                return
            }
            connection?.stage = .registered(newValue)
        }
    }

    /// The logged-in device's session, while logged in.
    var session: LoginSession? {
        get {
            guard case .loggedIn(let session) = connection?.stage else {
                return nil
            }
            return session
        }
        set {
            guard let newValue, case .loggedIn = connection?.stage else {
                return
            }
            connection?.stage = .loggedIn(newValue)
        }
    }
}
