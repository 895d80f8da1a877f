import Foundation
import WAWire

/// How a connection should start.
public enum ConnectionIntent: Sendable, Hashable {
    /// Register a new companion and pair it by QR code or by a phone-number pairing code.
    case pair(PairingMethod)
    /// Log in with paired credentials.
    case login
}

public enum PairingMethod: Sendable, Hashable {
    case qr
    /// The phone number in international format, digits only (e.g. 15551234567).
    case code(phoneNumber: String)
}

/// Something that happened on one upstream connection, in order. The stream ends after
/// `disconnected` or `loggedOut`.
public enum ClientEvent: Sendable {
    /// A QR code to show, valid for `validFor`; a later `.qr` replaces it (rotation, or the same
    /// ref re-rendered after companion_reg_refresh).
    case qr(code: String, validFor: Duration)
    /// The pairing code to type on the phone (display form `XXXX-XXXX`).
    case pairingCode(String, validFor: Duration)
    /// pair-success verified. The consumer must persist `credentials` durably, then call
    /// `confirmation.accept()` (or `reject`) — the reply to the server waits for it.
    case pairSuccess(credentials: DeviceCredentials, confirmation: PairingConfirmation)
    /// The reply was sent; the server will ask for a restart (515) next.
    case paired(PairedAccount)
    /// `<success>` after login; the device is online.
    case online(OnlineInfo)
    /// Credentials changed while connected (prekeys uploaded, LID learned); persist them.
    case credentialsUpdated(DeviceCredentials)
    /// A stanza that only the consumer can answer, because the answer depends on its stored state:
    /// every `<message>` and `<receipt>`, and the `<notification>`s of types `encrypt` with
    /// `<identity/>`, `devices` and `account_sync`. The connection never answers these itself; the
    /// consumer sends the receipt or ack with `UpstreamConnection.send(_:)` once what the stanza
    /// changed is stored (messaging.md §3). Delivered from `<success>` on, in arrival order.
    case stanza(Node)
    /// A keepalive ping failed; the connection stays up for now.
    case keepaliveLost(failures: Int, lastSuccess: Date?)
    /// A keepalive ping succeeded after failures.
    case keepaliveRestored
    /// The connection ended; `reason` says where and why. Terminal.
    case disconnected(DisconnectReason)
    /// The server says these credentials are dead (401/403/406, device_removed). Terminal.
    case loggedOut(DisconnectReason)
}

/// What `<success>` told us.
public struct OnlineInfo: Sendable, Hashable {
    public var jid: String
    public var lid: String?
    /// Server time minus local time when `<success t=…>` arrived.
    public var serverTimeOffset: Duration
    /// This end of the connection's socket (`ip:port`; the proxy's side when one is used): which
    /// connection a stanza was written on, as the send log records it.
    public var localAddress: String?

    public init(jid: String, lid: String?, serverTimeOffset: Duration, localAddress: String? = nil) {
        self.jid = jid
        self.lid = lid
        self.serverTimeOffset = serverTimeOffset
        self.localAddress = localAddress
    }
}
