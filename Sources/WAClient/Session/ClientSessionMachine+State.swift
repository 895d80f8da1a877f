import WAWire

extension ClientSessionMachine {
    /// Where the connection is, carrying exactly what that point needs: no keys before the handshake
    /// ends, pairing progress only while pairing, nothing after the close.
    enum State: Sendable {
        /// Not connected yet.
        case idle
        /// ClientHello sent, waiting for ServerHello.
        case handshaking(ClientHandshake)
        /// The transport is up: pairing, logging in, preparing or online.
        case connected(Connection)
        case closed
    }

    /// A connection past its handshake: what every stage shares, and the stage.
    struct Connection: Sendable {
        /// The Noise transport keys and counters.
        var transport: NoiseTransport
        var stage: Stage
        /// IQs we sent that wait for an answer, by id.
        var pending: [String: PendingIQ] = [:]
        var keepalive: KeepaliveProgress
        /// The last frame read did not decrypt (and was dropped).
        var lastFrameUndecryptable = false
    }

    /// How far a connected session got, with that stage's data.
    enum Stage: Sendable {
        /// Registered: pair-device, QR codes or the code flow, pair-success and its confirmation.
        case pairing(PairingProgress)
        /// Logged in, waiting for `<success>` or `<failure>`.
        case loggingIn
        /// `<success>` came; prekeys and the passive IQ are under way.
        case preparing(Session)
        /// The passive IQ was answered: the session is usable.
        case online(Session)
    }

    /// A logged-in session from `<success>` on: whether the credentials changed since they were last
    /// emitted, and whether a prekey upload is under way.
    struct Session: Sendable {
        var credentialsChanged = false
        var isUploading = false
    }

    public var phase: Phase {
        switch state {
        case .idle: .idle
        case .handshaking: .handshaking
        case .connected(let connection):
            switch connection.stage {
            case .pairing: .pairing
            case .loggingIn: .loggingIn
            case .preparing: .preparing
            case .online: .online
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

    /// The pairing's progress, while pairing.
    var pairing: PairingProgress? {
        get {
            guard case .pairing(let pairing) = connection?.stage else {
                return nil
            }
            return pairing
        }
        set {
            guard let newValue, case .pairing = connection?.stage else {
                return
            }
            connection?.stage = .pairing(newValue)
        }
    }

    /// The logged-in session, while preparing or online.
    var session: Session? {
        get {
            switch connection?.stage {
            case .preparing(let session), .online(let session): session
            default: nil
            }
        }
        set {
            guard let newValue else {
                return
            }
            switch connection?.stage {
            case .preparing: connection?.stage = .preparing(newValue)
            case .online: connection?.stage = .online(newValue)
            default: break
            }
        }
    }
}
