import Crypto
import Foundation
import Signal
import WAWire

/// A simulated WhatsApp user who is not an account of this simulator: it writes to accounts from its
/// phone (device 0) and holds real Signal sessions with their linked devices. Secret: it holds private
/// keys (its `description` does not show them).
public struct SimContact: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Digits only, international format.
    public var phoneNumber: String
    /// The LID user part (`<lidUser>@lid`).
    public var lidUser: String
    /// The `notify` attribute of its messages.
    public var pushName: String
    /// The Signal identity private key (32 bytes) of its phone.
    public var identityPrivateKey: [UInt8]
    /// 14-bit, as libsignal draws them.
    public var registrationID: UInt32
    public var signedPreKeyID: UInt32
    /// The signed prekey's private key (32 bytes).
    public var signedPreKeyPrivateKey: [UInt8]
    /// By the identity key over `05 ‖ signed prekey public key`.
    public var signedPreKeySignature: [UInt8]
    /// One-time prekeys are derived from this seed and their id, so none need storing.
    public var preKeySeed: [UInt8]
    /// The id the next bundle's one-time prekey gets: each is handed out once.
    public var nextPreKeyID: UInt32
    /// Whether it sends a `read` receipt (after the world's read delay) for each message it receives.
    public var readsMessages: Bool

    public init(
        phoneNumber: String, lidUser: String, pushName: String, identityPrivateKey: [UInt8], registrationID: UInt32,
        signedPreKeyID: UInt32, signedPreKeyPrivateKey: [UInt8], signedPreKeySignature: [UInt8],
        preKeySeed: [UInt8], nextPreKeyID: UInt32 = 1, readsMessages: Bool = true
    ) {
        self.phoneNumber = phoneNumber
        self.lidUser = lidUser
        self.pushName = pushName
        self.identityPrivateKey = identityPrivateKey
        self.registrationID = registrationID
        self.signedPreKeyID = signedPreKeyID
        self.signedPreKeyPrivateKey = signedPreKeyPrivateKey
        self.signedPreKeySignature = signedPreKeySignature
        self.preKeySeed = preKeySeed
        self.nextPreKeyID = nextPreKeyID
        self.readsMessages = readsMessages
    }

    private enum CodingKeys: String, CodingKey {
        case phoneNumber, lidUser, pushName, identityPrivateKey, registrationID, signedPreKeyID, signedPreKeyPrivateKey
        case signedPreKeySignature, preKeySeed, nextPreKeyID, readsMessages
    }

    /// Reads state files written before contacts read messages (no `readsMessages`: they do).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        phoneNumber = try container.decode(String.self, forKey: .phoneNumber)
        lidUser = try container.decode(String.self, forKey: .lidUser)
        pushName = try container.decode(String.self, forKey: .pushName)
        identityPrivateKey = try container.decode([UInt8].self, forKey: .identityPrivateKey)
        registrationID = try container.decode(UInt32.self, forKey: .registrationID)
        signedPreKeyID = try container.decode(UInt32.self, forKey: .signedPreKeyID)
        signedPreKeyPrivateKey = try container.decode([UInt8].self, forKey: .signedPreKeyPrivateKey)
        signedPreKeySignature = try container.decode([UInt8].self, forKey: .signedPreKeySignature)
        preKeySeed = try container.decode([UInt8].self, forKey: .preKeySeed)
        nextPreKeyID = try container.decode(UInt32.self, forKey: .nextPreKeyID)
        readsMessages = try container.decodeIfPresent(Bool.self, forKey: .readsMessages) ?? true
    }

    /// A new contact with fresh keys and a random LID, all drawn from `rng`.
    public static func generate(
        phoneNumber: String, pushName: String? = nil, using rng: inout some RandomNumberGenerator
    ) -> SimContact {
        let identity = Curve25519KeyPair.generate(using: &rng)
        let signedPreKey = Curve25519KeyPair.generate(using: &rng)
        let lidUser = String(UInt64.random(in: 100_000_000_000_000...999_999_999_999_999, using: &rng))
        // Thirty-two bytes and 64 bytes of randomness are what the signature needs: it cannot fail.
        let signature = try! CurveSignature.sign(
            [RegistrationKeys.keyType] + signedPreKey.publicKey, privateKey: identity.privateKey, randomness: rng.bytes(64)
        )
        return SimContact(
            phoneNumber: phoneNumber, lidUser: lidUser, pushName: pushName ?? "Contact \(phoneNumber.suffix(4))",
            identityPrivateKey: identity.privateKey, registrationID: UInt32.random(in: 1...16380, using: &rng),
            signedPreKeyID: UInt32.random(in: 1...0xFF_FFFF, using: &rng), signedPreKeyPrivateKey: signedPreKey.privateKey,
            signedPreKeySignature: signature, preKeySeed: rng.bytes(32)
        )
    }

    /// `<phone>@s.whatsapp.net`: its phone (device 0) by number.
    public var jid: JID { JID(user: phoneNumber, server: .whatsApp) }
    /// `<lid>@lid`: its phone (device 0) by LID.
    public var lid: JID { JID(user: lidUser, server: .lid) }

    /// Whether `jid` is its phone (device 0), by number or by LID.
    func isPhone(_ jid: JID) -> Bool {
        jid.device == 0 && ((jid.server == .whatsApp && jid.user == phoneNumber) || (jid.server == .lid && jid.user == lidUser))
    }

    /// The phone's Signal identity.
    var sender: SimSender {
        SimSender(phone: jid, lid: lid, identityPrivateKey: identityPrivateKey, registrationID: registrationID, pushName: pushName)
    }

    /// One-time prekey `id`: X25519 from HKDF-SHA256(seed, info: label ‖ BE32(id)).
    func oneTimePreKey(_ id: UInt32) -> Curve25519KeyPair {
        let info = Array("pairgate sim contact prekey".utf8) + (0..<4).reversed().map { UInt8(truncatingIfNeeded: id >> (8 * $0)) }
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: preKeySeed), info: info, outputByteCount: 32)
        // Thirty-two bytes are always a valid X25519 private key (clamped on the way in).
        return try! Curve25519KeyPair(privateKey: key.withUnsafeBytes { Array($0) })
    }

    /// Its bundle for one new session, with the next one-time prekey (never handed out twice).
    mutating func takeBundle() -> KeyBundle? {
        guard let identity = try? Curve25519KeyPair(privateKey: identityPrivateKey),
              let signedPreKey = try? Curve25519KeyPair(privateKey: signedPreKeyPrivateKey)
        else {
            return nil
        }
        let id = nextPreKeyID
        nextPreKeyID = id >= 0xFF_FFFF ? 1 : id + 1
        return KeyBundle(
            registrationID: registrationID, identityKey: identity.publicKey,
            signedPreKey: KeyBundle.SignedPreKey(id: signedPreKeyID, publicKey: signedPreKey.publicKey, signature: signedPreKeySignature),
            preKey: KeyBundle.PreKey(id: id, publicKey: oneTimePreKey(id).publicKey)
        )
    }

    public var description: String { "SimContact(\(phoneNumber), keys redacted)" }
}
