/// How a pairing proves the phone's owner: scanning a QR code or typing a pairing code.
public enum PairingMethod: String, Sendable, Hashable, Codable, CaseIterable {
    case qr, code
}
