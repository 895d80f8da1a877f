import Foundation

/// Everything a linked device needs to come back online, as one value the device pool seals and
/// persists. Secret: never log it (its `description` shows no key material).
public struct DeviceCredentials: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Noise static private key (X25519, 32 bytes, clamped).
    public var noiseKey: [UInt8]
    /// Identity private key (X25519, 32 bytes, clamped).
    public var identityKey: [UInt8]
    public var signedPreKeyID: UInt32
    public var signedPreKey: [UInt8]
    /// The identity key's signature over `05 ‖ signedPreKeyPublic`.
    public var signedPreKeySignature: [UInt8]
    /// Any UInt32.
    public var registrationID: UInt32
    /// The ADV secret (QR field 4, or derived by code pairing); checked against pair-success.
    public var advSecret: [UInt8]
    /// One-time prekey private keys are derived from this seed and their id, so uploading 812 of
    /// them stores 32 bytes instead of 26 KiB.
    public var preKeySeed: [UInt8]
    /// The first one-time prekey id not uploaded yet (ids start at 1, 24-bit).
    public var nextPreKeyID: UInt32
    /// Set once pair-success was verified; nil for a device that was never paired.
    public var account: PairedAccount?

    public init(
        noiseKey: [UInt8], identityKey: [UInt8], signedPreKeyID: UInt32, signedPreKey: [UInt8],
        signedPreKeySignature: [UInt8], registrationID: UInt32, advSecret: [UInt8],
        preKeySeed: [UInt8], nextPreKeyID: UInt32 = 1, account: PairedAccount? = nil
    ) {
        self.noiseKey = noiseKey
        self.identityKey = identityKey
        self.signedPreKeyID = signedPreKeyID
        self.signedPreKey = signedPreKey
        self.signedPreKeySignature = signedPreKeySignature
        self.registrationID = registrationID
        self.advSecret = advSecret
        self.preKeySeed = preKeySeed
        self.nextPreKeyID = nextPreKeyID
        self.account = account
    }

    /// Whether pairing completed, so a login (not a registration) is the way back online.
    public var isPaired: Bool { account != nil }

    /// Safe for logs: no keys, and the account only by its number's last four digits.
    public var description: String {
        "DeviceCredentials(\(account.map { "paired as \(MaskedNumber.from(jid: $0.jid) ?? "?")" } ?? "unpaired"), keys redacted)"
    }
}

/// What pair-success told us about the account this device is linked to.
public struct PairedAccount: Sendable, Hashable, Codable {
    /// Own device JID, `phone:device@s.whatsapp.net`.
    public var jid: String
    /// Own LID, `lid:device@lid`, when the server sent one.
    public var lid: String?
    /// The phone's platform (`android`, `smba`, …).
    public var platform: String?
    public var businessName: String?
    /// The serialized ADVSignedDeviceIdentity with the account signature key (whatsmeow keeps it).
    public var signedIdentity: [UInt8]
    public var keyIndex: UInt32

    public init(jid: String, lid: String?, platform: String?, businessName: String?, signedIdentity: [UInt8], keyIndex: UInt32) {
        self.jid = jid
        self.lid = lid
        self.platform = platform
        self.businessName = businessName
        self.signedIdentity = signedIdentity
        self.keyIndex = keyIndex
    }

    /// The phone number part of the JID, for masking in status output.
    public var phoneNumber: String {
        String(jid.prefix { $0 != ":" && $0 != "@" })
    }
}
