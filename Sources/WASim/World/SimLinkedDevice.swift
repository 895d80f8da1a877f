import Foundation
import Signal
import WAWire

/// A companion linked to a simulated account, as the server remembers it: its keys for logins, and the
/// prekeys it published so that simulated senders can start Signal sessions with it.
public struct SimLinkedDevice: Sendable, Hashable, Codable {
    public var phoneNumber: String
    public var deviceID: UInt16
    public var lidUser: String
    /// The Noise static key a login must present.
    public var noisePublicKey: [UInt8]
    public var identityPublicKey: [UInt8]
    public var registrationID: UInt32
    public var keyIndex: UInt32
    public var linkedAt: Date
    /// DeviceProps `os` from the registration, e.g. "Pairgate".
    public var os: String
    /// One-time prekeys uploaded in total, and handed out to (simulated) senders since.
    public var uploadedPreKeys: Int
    public var handedOutPreKeys: Int
    /// From the registration payload, replaced by each accepted upload; nil for devices saved before
    /// the simulator kept it (they get one with their next upload).
    public var signedPreKey: SimSignedPreKey?
    /// The uploaded one-time prekeys not handed out yet.
    public var preKeys: SimPreKeys

    public init(
        phoneNumber: String, deviceID: UInt16, lidUser: String, noisePublicKey: [UInt8], identityPublicKey: [UInt8],
        registrationID: UInt32, keyIndex: UInt32, linkedAt: Date, os: String,
        uploadedPreKeys: Int = 0, handedOutPreKeys: Int = 0, signedPreKey: SimSignedPreKey? = nil, preKeys: SimPreKeys = SimPreKeys()
    ) {
        self.phoneNumber = phoneNumber
        self.deviceID = deviceID
        self.lidUser = lidUser
        self.noisePublicKey = noisePublicKey
        self.identityPublicKey = identityPublicKey
        self.registrationID = registrationID
        self.keyIndex = keyIndex
        self.linkedAt = linkedAt
        self.os = os
        self.uploadedPreKeys = uploadedPreKeys
        self.handedOutPreKeys = handedOutPreKeys
        self.signedPreKey = signedPreKey
        self.preKeys = preKeys
    }

    /// `<phone>:<device>@s.whatsapp.net`.
    public var jid: JID { JID(user: phoneNumber, device: deviceID, server: .whatsApp) }
    /// `<lid>:<device>@lid`.
    public var lid: JID { JID(user: lidUser, device: deviceID, server: .lid) }
    /// What the prekey count query answers: uploaded and not yet handed out.
    public var availablePreKeys: Int { max(0, uploadedPreKeys - handedOutPreKeys) }

    /// An accepted upload: the keys are kept (the oldest beyond `SimPreKeys.maximumCount` dropped) and
    /// the signed prekey replaces the one held.
    mutating func recordUpload(_ keys: [PreKeyBundle.OneTimePreKey], signedPreKey: SimSignedPreKey) {
        uploadedPreKeys += keys.count
        preKeys.add(keys)
        self.signedPreKey = signedPreKey
    }

    /// `count` prekeys given to senders outside a bundle (the count drops; the oldest keys go).
    mutating func handOut(_ count: Int) {
        let taken = min(availablePreKeys, max(0, count))
        handedOutPreKeys += taken
        preKeys.drop(taken)
    }

    /// The bundle for one new session (messaging.md §6.1): the signed prekey and, while the count
    /// allows, the oldest one-time prekey, which is consumed. A device counted but holding no key
    /// (seeded state) gets a bundle without one, as a device that ran out. Nil without a signed prekey.
    mutating func takeBundle() -> PreKeyBundle? {
        guard let signedPreKey else {
            return nil
        }
        var oneTime: PreKeyBundle.OneTimePreKey?
        if availablePreKeys > 0 {
            handedOutPreKeys += 1
            oneTime = preKeys.takeOldest()
        }
        return PreKeyBundle(
            registrationID: registrationID, identityKey: identityPublicKey, signedPreKeyID: signedPreKey.id,
            signedPreKey: signedPreKey.publicKey, signedPreKeySignature: signedPreKey.signature, oneTimePreKey: oneTime
        )
    }

    private enum CodingKeys: String, CodingKey {
        case phoneNumber, deviceID, lidUser, noisePublicKey, identityPublicKey, registrationID, keyIndex, linkedAt, os
        case uploadedPreKeys, handedOutPreKeys, signedPreKey, preKeys
    }

    /// Reads state files written before the simulator kept prekeys (no `signedPreKey`, no `preKeys`).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        phoneNumber = try container.decode(String.self, forKey: .phoneNumber)
        deviceID = try container.decode(UInt16.self, forKey: .deviceID)
        lidUser = try container.decode(String.self, forKey: .lidUser)
        noisePublicKey = try container.decode([UInt8].self, forKey: .noisePublicKey)
        identityPublicKey = try container.decode([UInt8].self, forKey: .identityPublicKey)
        registrationID = try container.decode(UInt32.self, forKey: .registrationID)
        keyIndex = try container.decode(UInt32.self, forKey: .keyIndex)
        linkedAt = try container.decode(Date.self, forKey: .linkedAt)
        os = try container.decode(String.self, forKey: .os)
        uploadedPreKeys = try container.decode(Int.self, forKey: .uploadedPreKeys)
        handedOutPreKeys = try container.decode(Int.self, forKey: .handedOutPreKeys)
        signedPreKey = try container.decodeIfPresent(SimSignedPreKey.self, forKey: .signedPreKey)
        preKeys = try container.decodeIfPresent(SimPreKeys.self, forKey: .preKeys) ?? SimPreKeys()
    }
}
