/// The companion's Signal keys that a registration payload announces (public parts only).
public struct RegistrationKeys: Sendable, Hashable {
    public var registrationID: UInt32
    /// Identity public key, 32 bytes.
    public var identityKey: [UInt8]
    /// Sent as 3 bytes, so at most 0xFFFFFF.
    public var signedPreKeyID: UInt32
    /// Signed pre-key public key, 32 bytes.
    public var signedPreKey: [UInt8]
    /// 64-byte curve25519 signature by the identity key over `05 ‖ signedPreKey`.
    public var signedPreKeySignature: [UInt8]

    public init(
        registrationID: UInt32,
        identityKey: [UInt8],
        signedPreKeyID: UInt32,
        signedPreKey: [UInt8],
        signedPreKeySignature: [UInt8]
    ) {
        self.registrationID = registrationID
        self.identityKey = identityKey
        self.signedPreKeyID = signedPreKeyID
        self.signedPreKey = signedPreKey
        self.signedPreKeySignature = signedPreKeySignature
    }

    /// Signal's type byte for Curve25519 keys ("DJB"), the registration's key type.
    public static let keyType: UInt8 = 0x05

    /// The bytes the identity key signs: the signed pre-key with its type byte in front.
    public var signedPreKeyMessage: [UInt8] { [Self.keyType] + signedPreKey }
}
