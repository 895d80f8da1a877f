import Foundation

/// `pairing.ended`: the pairing is over, with its outcome.
public struct PairingEnded: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        /// The phone linked the device; `device.state` events follow as it logs in.
        case paired
        /// Every code expired without a scan.
        case timeout
        /// `POST /reset` (or a new pairing request for the device) cancelled it.
        case cancelled
        /// The link did not verify or could not be stored; see `detail`.
        case failed
        /// The instance running it stopped; another ended it at its deadline.
        case interrupted
    }

    public var pairingID: UUID
    public var method: PairingMethod
    public var outcome: Outcome
    /// What went wrong, for `failed` and some `cancelled`; null otherwise.
    public var detail: String?

    public init(pairingID: UUID, method: PairingMethod, outcome: Outcome, detail: String?) {
        self.pairingID = pairingID
        self.method = method
        self.outcome = outcome
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case method, outcome, detail
        case pairingID = "pairing_id"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeLowercased(pairingID, forKey: .pairingID)
        try container.encode(method, forKey: .method)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(detail, forKey: .detail)
    }
}
