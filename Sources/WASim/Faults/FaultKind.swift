/// A misbehaviour the simulator can inject, named as the control API and the stats spell it.
public enum FaultKind: String, Sendable, Hashable, Codable, CaseIterable, CodingKeyRepresentable {
    /// Close the socket as soon as it is accepted.
    case refuseConnection = "refuse_connection"
    /// Close the socket after ClientHello, without a ServerHello.
    case dropHandshake = "drop_handshake"
    /// Hold the ServerHello back for the fault's delay.
    case delayHandshake = "delay_handshake"
    /// `<stream:error code="515"/>` a while after `<success>` (the fault's delay): restart required.
    case streamError515 = "stream_error_515"
    /// `<stream:error code="503"/>` after login: service unavailable.
    case streamError503 = "stream_error_503"
    /// `<stream:error><conflict type="replaced"/></stream:error>` after login.
    case conflictReplaced = "conflict_replaced"
    /// `<stream:error code="401"><conflict type="device_removed"/></stream:error>` after login; the device stays linked.
    case deviceRemoved = "device_removed"
    /// `<failure reason="405"/>` instead of `<success>`: client outdated. A registration does not use it up.
    case failure405 = "failure_405"
    /// The phone unlinks the device right after it logged in: stream:error 401 device_removed now,
    /// `<failure reason="401"/>` on every later login.
    case unlink
    /// From login on, answer keepalive pings only after the fault's delay.
    case slowKeepalive = "slow_keepalive"
    /// From login on, never answer keepalive pings.
    case missingKeepalive = "missing_keepalive"
    /// The next message copy for the device gets a broken MAC: the device cannot decrypt it and must
    /// send a retry receipt, which the sender answers with a good copy.
    case undecryptableMessage = "undecryptable_message"
    /// The server refuses the device's next message with `<ack class="message" error="429"/>` (rate-overlimit).
    case rateOverlimit = "rate_overlimit"
    /// The contact the device's next message reaches asks for it again once (a retry receipt); the
    /// device's re-encrypted copy is accepted.
    case retryReceipt = "retry_receipt"
    /// The server routes the device's next message to its recipients as usual but never acks it, and
    /// holds the recipients' receipts for the device's next login: the device's send stays in flight
    /// until its connection ends (the window between the write
    /// and the server's ack, in which a crash must not cost the message nor send it twice).
    case withholdAck = "withhold_ack"

    /// The kind of a fault the connection machine reports as applied (`SimWorldEvent.faultApplied`).
    init?(appliedLabel label: String) {
        switch label {
        case "refuse": self = .refuseConnection
        case "drop_mid_handshake": self = .dropHandshake
        case "handshake_delay": self = .delayHandshake
        case "stream_error_515": self = .streamError515
        case "stream_error_503": self = .streamError503
        case "stream_error_replaced": self = .conflictReplaced
        case "stream_error_device_removed": self = .deviceRemoved
        case "login_failure_405": self = .failure405
        case "keepalive_delay": self = .slowKeepalive
        case "keepalive_ignore": self = .missingKeepalive
        default: return nil
        }
    }

    /// When the fault is decided for a connection.
    public var stage: FaultStage {
        switch self {
        case .refuseConnection, .dropHandshake, .delayHandshake, .failure405: .connect
        case .streamError515, .streamError503, .conflictReplaced, .deviceRemoved, .unlink, .slowKeepalive, .missingKeepalive: .login
        case .undecryptableMessage, .rateOverlimit, .retryReceipt, .withholdAck: .message
        }
    }
}

/// The two moments at which faults are decided.
public enum FaultStage: String, Sendable, Hashable, Codable, CaseIterable {
    /// The socket opened; nothing is known about the client yet, so these faults cannot target a device.
    case connect
    /// A device logged in (`<success>` is on its way); these faults can target one device.
    case login
    /// A message is encrypted for one linked device, or one reaches the server from a linked device;
    /// these faults can target one device.
    case message
}
