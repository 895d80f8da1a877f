/// A remote device's prekeys as the server hands them out (`<iq xmlns="encrypt">`, messaging.md §6.1).
///
/// Keys are the 32-byte forms of the wire; the signature covers the 33-byte `0x05 ‖ signedPreKey`.
public struct PreKeyBundle: Sendable, Equatable {
    /// A one-time prekey: its id and public key (32 bytes).
    public struct OneTimePreKey: Sendable, Equatable {
        public var id: UInt32
        public var publicKey: [UInt8]

        public init(id: UInt32, publicKey: [UInt8]) {
            self.id = id
            self.publicKey = publicKey
        }
    }

    public var registrationID: UInt32
    /// The device's identity key (32 bytes): compare it with the one on record (trust on first use).
    public var identityKey: [UInt8]
    public var signedPreKeyID: UInt32
    public var signedPreKey: [UInt8]
    /// 64 bytes by `identityKey` over `0x05 ‖ signedPreKey`.
    public var signedPreKeySignature: [UInt8]
    /// Absent when the device has none left: the session then uses a 3-DH X3DH.
    public var oneTimePreKey: OneTimePreKey?

    public init(
        registrationID: UInt32,
        identityKey: [UInt8],
        signedPreKeyID: UInt32,
        signedPreKey: [UInt8],
        signedPreKeySignature: [UInt8],
        oneTimePreKey: OneTimePreKey?
    ) {
        self.registrationID = registrationID
        self.identityKey = identityKey
        self.signedPreKeyID = signedPreKeyID
        self.signedPreKey = signedPreKey
        self.signedPreKeySignature = signedPreKeySignature
        self.oneTimePreKey = oneTimePreKey
    }
}
