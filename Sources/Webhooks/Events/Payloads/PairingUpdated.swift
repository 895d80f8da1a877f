import Foundation

/// `pairing.updated`: a new QR code or pairing code is on show. It says which one and until when,
/// not the code itself: the event is stored and retried for a day and may travel over plain
/// http, while the code is a secret for a minute. The QR is at `GET /pair/qr.svg` and on the
/// pairing page; `POST /pair` returns both links.
public struct PairingUpdated: Sendable, Hashable, Codable {
    public var pairingID: UUID
    public var method: PairingMethod
    /// 1 for the first code of the pairing, then 2, 3… at each rotation.
    public var sequence: Int
    /// When this code stops working.
    public var expiresAt: Date
    /// When the pairing itself ends if nobody scans or types a code.
    public var pairingExpiresAt: Date

    public init(pairingID: UUID, method: PairingMethod, sequence: Int, expiresAt: Date, pairingExpiresAt: Date) {
        self.pairingID = pairingID
        self.method = method
        self.sequence = sequence
        self.expiresAt = EventTime.truncated(expiresAt)
        self.pairingExpiresAt = EventTime.truncated(pairingExpiresAt)
    }

    enum CodingKeys: String, CodingKey {
        case method, sequence
        case pairingID = "pairing_id"
        case expiresAt = "expires_at"
        case pairingExpiresAt = "pairing_expires_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeLowercased(pairingID, forKey: .pairingID)
        try container.encode(method, forKey: .method)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(pairingExpiresAt, forKey: .pairingExpiresAt)
    }
}
