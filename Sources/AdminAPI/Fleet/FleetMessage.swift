import DevicePool
import Foundation

/// What instances tell each other over PostgreSQL NOTIFY on one channel, as JSON. Payloads stay
/// far below NOTIFY's 8000-byte limit (a QR string is about 200 characters).
enum FleetMessage: Codable, Sendable, Hashable {
    /// A pairing's update, sent by the instance that runs it.
    case pairing(PairingNotice)
    /// Someone watches a pairing and has nothing yet: its owner sends the current state again.
    case replay(pairingID: UUID)
    /// Reset a device this instance does not run; `to` is the owner.
    case reset(ResetRequest)
    case resetResult(ResetReply)
    /// Tenants, hosts or tokens changed: forget cached lookups.
    case tenancyChanged

    static let channel = "pairgate_fleet"
}

/// One pairing update as it travels between instances.
struct PairingNotice: Codable, Sendable, Hashable {
    var pairingID: UUID
    var tenantID: UUID
    var deviceID: UUID
    var deadline: Date
    var update: Update

    enum Update: Codable, Sendable, Hashable {
        case qr(String, expiresAt: Date)
        case code(String, expiresAt: Date)
        case paired(jid: String)
        case ended(PairingOutcome, detail: String?)
    }

    init(feed: PairingFeed, update: PairingUpdate) {
        pairingID = feed.pairingID
        tenantID = feed.tenantID
        deviceID = feed.deviceID
        deadline = feed.deadline
        self.update = switch update {
        case .qr(let code, let expiresAt): .qr(code, expiresAt: expiresAt)
        case .code(let code, let expiresAt): .code(code, expiresAt: expiresAt)
        case .paired(_, let jid): .paired(jid: jid)
        case .ended(let outcome, let detail): .ended(outcome, detail: detail)
        }
    }

    var pairingUpdate: PairingUpdate {
        switch update {
        case .qr(let code, let expiresAt): .qr(code, expiresAt: expiresAt)
        case .code(let code, let expiresAt): .code(code, expiresAt: expiresAt)
        case .paired(let jid): .paired(deviceID: deviceID, jid: jid)
        case .ended(let outcome, let detail): .ended(outcome, detail: detail)
        }
    }
}

struct ResetRequest: Codable, Sendable, Hashable {
    var id: UUID
    var from: String
    var to: String
    var deviceID: UUID
    var mode: ResetMode
}

struct ResetReply: Codable, Sendable, Hashable {
    var id: UUID
    var to: String
    var outcome: Outcome

    enum Outcome: Codable, Sendable, Hashable {
        case applied(state: String)
        case unchanged(state: String)
        case failed(code: String)
    }
}
