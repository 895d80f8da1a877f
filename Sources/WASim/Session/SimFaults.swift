import WAWire

/// Faults applied to one connection from its start; `SimWorld` draws them when the connection opens.
public struct SimConnectionFaults: Sendable, Hashable {
    /// Close the connection at once, before the handshake.
    public var refuse = false
    /// Read ClientHello, then close without answering.
    public var dropMidHandshake = false
    /// Hold ServerHello back this long.
    public var handshakeDelay: Duration?
    /// Answer a login with `<failure reason=…>` (405 is "client outdated") instead of `<success>`.
    public var loginFailure: Int?
    public var keepalive = SimKeepaliveFault.answer

    public init(
        refuse: Bool = false, dropMidHandshake: Bool = false, handshakeDelay: Duration? = nil,
        loginFailure: Int? = nil, keepalive: SimKeepaliveFault = .answer
    ) {
        self.refuse = refuse
        self.dropMidHandshake = dropMidHandshake
        self.handshakeDelay = handshakeDelay
        self.loginFailure = loginFailure
        self.keepalive = keepalive
    }
}

/// How keepalive pings are answered.
public enum SimKeepaliveFault: Sendable, Hashable {
    case answer
    /// Answer after this long (slow).
    case delay(Duration)
    /// Never answer (missing).
    case ignore
}

/// A fault applied to a live connection, delivered with `SimWorld.deliver(.fault(…), to:)`.
public enum SimFault: Sendable, Hashable {
    /// Send this stream:error, then close.
    case streamError(SimStreamError)
    /// Change how keepalive pings are answered from now on.
    case keepalive(SimKeepaliveFault)
    /// Close the socket without a word.
    case drop
}

/// The stream:error forms of transport.md §6.4 the simulator can send.
public enum SimStreamError: Sendable, Hashable {
    /// `<stream:error code="515"/>`
    case restartRequired
    /// `<stream:error code="503"/>`
    case serviceUnavailable
    /// `<stream:error><conflict type="replaced"/></stream:error>`
    case replaced
    /// `<stream:error code="401"><conflict type="device_removed"/></stream:error>`
    case deviceRemoved
    /// `<stream:error code="N"/>`
    case code(Int)

    /// The stanza.
    public var node: Node {
        switch self {
        case .restartRequired:
            Node("stream:error", ["code": "515"])
        case .serviceUnavailable:
            Node("stream:error", ["code": "503"])
        case .replaced:
            Node("stream:error", [Node("conflict", ["type": "replaced"])])
        case .deviceRemoved:
            Node("stream:error", ["code": "401"], [Node("conflict", ["type": "device_removed"])])
        case .code(let code):
            Node("stream:error", ["code": .string(String(code))])
        }
    }

    /// A stable label for statistics, e.g. `stream_error_515`.
    public var label: String {
        switch self {
        case .restartRequired: "stream_error_515"
        case .serviceUnavailable: "stream_error_503"
        case .replaced: "stream_error_replaced"
        case .deviceRemoved: "stream_error_device_removed"
        case .code(let code): "stream_error_\(code)"
        }
    }
}
