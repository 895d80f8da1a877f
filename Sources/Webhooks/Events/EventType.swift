/// The catalogue's event types (docs/webhooks.md): the `type` of every payload and the names an
/// endpoint subscribes to. A type's name and its `data` fields never change meaning; fields are
/// only ever added.
public enum EventType: String, Sendable, Hashable, CaseIterable, Codable {
    /// A real transition of a device's state (updates inside a state are not sent).
    case deviceState = "device.state"
    /// A new QR code or pairing code is on show.
    case pairingUpdated = "pairing.updated"
    /// A pairing ended: paired, timeout, cancelled, failed or interrupted.
    case pairingEnded = "pairing.ended"
    /// The device's credentials are gone; it needs a new pairing ("needs re-authentication").
    case deviceLoggedOut = "device.logged_out"
    /// A message arrived in the device's inbox (with the messaging work of issue 11).
    case messageReceived = "message.received"
    /// A sent message changed status (with the messaging work of issue 12).
    case messageStatus = "message.status"
    /// One of the tenant's endpoints was disabled; sent to its other endpoints.
    case endpointDisabled = "endpoint.disabled"
}
