import Foundation

/// Something that happened in the gateway that other parts of it, on this instance or another,
/// act on. The part that owns the change publishes it once on the `EventBus`. Codable because
/// other instances get it as JSON through the fleet bus.
public enum GatewayEvent: Codable, Sendable, Hashable {
    /// A pairing showed a new QR or code, paired, or ended.
    case pairing(PairingEvent)
}

/// One update of one pairing, with what a watcher anywhere needs to place it.
public struct PairingEvent: Codable, Sendable, Hashable {
    public var pairingID: UUID
    public var tenantID: UUID
    public var deviceID: UUID
    /// When the pairing ends at the latest (watchers elsewhere forget it a minute later).
    public var deadline: Date
    public var update: PairingUpdate

    public init(pairingID: UUID, tenantID: UUID, deviceID: UUID, deadline: Date, update: PairingUpdate) {
        self.pairingID = pairingID
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.deadline = deadline
        self.update = update
    }
}

/// What a pairing's watchers see: the current QR or code, then the outcome.
public enum PairingUpdate: Codable, Sendable, Hashable {
    case qr(String, expiresAt: Date)
    case code(String, expiresAt: Date)
    /// pair-success was stored; `jid` is the phone's account. The pairing ends `paired` next.
    case paired(jid: String)
    case ended(PairingOutcome, detail: String?)
}
