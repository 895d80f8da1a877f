import Foundation
import WAClient

/// Something that happens to a device; the state machine decides whether it applies.
public enum DeviceEvent: Sendable, Hashable {
    /// A tenant asked to pair this device (by QR, or by code for a phone number).
    case pairRequested(PairingMethod)
    /// The upstream showed a new QR code or pairing code: an update of the pairing, not a transition.
    case pairingCodeIssued
    /// pair-success was verified and its credentials are stored.
    case paired
    /// The pairing ended without success.
    case pairingEnded(PairingOutcome)
    /// Start connecting (boot, or the supervisor took over a paired device).
    case connectRequested
    /// `<success>`: the device is online.
    case loginSucceeded
    /// The connection ended, classified; the reconnect policy decides what follows.
    case disconnected(DisconnectReason)
    /// A keepalive ping failed or recovered: an update, not a transition.
    case keepaliveChanged
    /// The backoff delay has passed.
    case backoffElapsed
    /// A suspension's cause went away (ban over, version changed, credentials readable again).
    case suspensionLifted
    /// The stored credentials cannot be opened with the configured master keys (a key missing
    /// from the configuration, a tampered row): nothing can connect until that is fixed.
    case credentialsUnreadable
    /// An operator or tenant reset.
    case reset(ResetMode)
    /// The process is shutting down (SIGTERM).
    case shutdown
    /// The tenant stopped the device (`POST /devices/{id}/stop`): like a shutdown, but the
    /// device's desired state keeps every instance from connecting it again.
    case stop
}

/// How a pairing ended (the `pairing_sessions.outcome` column).
public enum PairingOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    case paired, timeout, cancelled, failed, interrupted
}

/// `soft` reconnects with the same credentials; `logout` unlinks and wipes them.
public enum ResetMode: String, Sendable, Hashable, Codable, CaseIterable {
    case soft, logout
}
