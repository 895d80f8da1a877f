import Foundation
import WAWire

/// Identifies one connection to the simulator, from `SimWorld.openConnection` until it ends.
public struct SimConnectionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    public static func < (lhs: SimConnectionID, rhs: SimConnectionID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public var description: String { "connection \(rawValue)" }
}

/// A simulated WhatsApp account: the phone that scans QR codes and types pairing codes. Secret: it holds
/// the phone's identity private key (its `description` does not show it).
public struct SimAccount: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Digits only, international format.
    public var phoneNumber: String
    /// The account's LID user part (`<lidUser>:<device>@lid`).
    public var lidUser: String
    /// The phone's identity private key (32 bytes); it signs every device it links.
    public var identityPrivateKey: [UInt8]
    /// Sent in pair-success `<platform name>`: `android`, `iphone`, `smba` (business)...
    public var platform: String
    /// Sent as pair-success `<biz name>` when set.
    public var businessName: String?
    /// The ADV `rawID` the phone signs into every device identity.
    public var rawID: UInt32
    /// The device number the next linked companion gets.
    public internal(set) var nextDeviceID: UInt16
    /// The ADV key index the next linked companion gets.
    public internal(set) var nextKeyIndex: UInt32

    public init(
        phoneNumber: String, lidUser: String, identityPrivateKey: [UInt8], platform: String = "android",
        businessName: String? = nil, rawID: UInt32, nextDeviceID: UInt16 = 1, nextKeyIndex: UInt32 = 1
    ) {
        self.phoneNumber = phoneNumber
        self.lidUser = lidUser
        self.identityPrivateKey = identityPrivateKey
        self.platform = platform
        self.businessName = businessName
        self.rawID = rawID
        self.nextDeviceID = nextDeviceID
        self.nextKeyIndex = nextKeyIndex
    }

    /// A new account with fresh keys and a random LID drawn from `rng`.
    public static func generate(
        phoneNumber: String, platform: String = "android", businessName: String? = nil,
        using rng: inout some RandomNumberGenerator
    ) -> SimAccount {
        let identity = Curve25519KeyPair.generate(using: &rng)
        let lidUser = String(UInt64.random(in: 100_000_000_000_000...999_999_999_999_999, using: &rng))
        return SimAccount(
            phoneNumber: phoneNumber, lidUser: lidUser, identityPrivateKey: identity.privateKey, platform: platform,
            businessName: businessName, rawID: UInt32.random(in: 1...UInt32.max, using: &rng)
        )
    }

    /// The phone's identity key pair; nil when the stored key is not 32 bytes.
    public var identity: Curve25519KeyPair? {
        try? Curve25519KeyPair(privateKey: identityPrivateKey)
    }

    /// The account's phone-number JID, `<phone>@s.whatsapp.net`.
    public var jid: JID { JID(user: phoneNumber, server: .whatsApp) }

    public var description: String { "SimAccount(\(phoneNumber), keys redacted)" }
}

/// A companion linked to a simulated account, as the server remembers it.
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

    public init(
        phoneNumber: String, deviceID: UInt16, lidUser: String, noisePublicKey: [UInt8], identityPublicKey: [UInt8],
        registrationID: UInt32, keyIndex: UInt32, linkedAt: Date, os: String,
        uploadedPreKeys: Int = 0, handedOutPreKeys: Int = 0
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
    }

    /// `<phone>:<device>@s.whatsapp.net`.
    public var jid: JID { JID(user: phoneNumber, device: deviceID, server: .whatsApp) }
    /// `<lid>:<device>@lid`.
    public var lid: JID { JID(user: lidUser, device: deviceID, server: .lid) }
    /// What the prekey count query answers: uploaded and not yet handed out.
    public var availablePreKeys: Int { max(0, uploadedPreKeys - handedOutPreKeys) }
}

/// Something the client did that the protocol does not allow, recorded with enough detail to fix it.
public struct SimViolation: Sendable, Hashable, CustomStringConvertible {
    /// A stable kind, for counting and matching.
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String

        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        /// Framing, the handshake, or a frame that does not decrypt.
        public static let transport = Kind(rawValue: "transport")
        /// A stanza that does not decode, or a stanza with the wrong attributes or children.
        public static let malformedStanza = Kind(rawValue: "malformed_stanza")
        /// An ack or IQ answer the client owed did not come in time.
        public static let missingAnswer = Kind(rawValue: "missing_answer")
        /// An answer to an id we never used, or to one already answered.
        public static let unexpectedAnswer = Kind(rawValue: "unexpected_answer")
        /// A signature, HMAC or key that does not verify or match.
        public static let badSignature = Kind(rawValue: "bad_signature")
        /// A valid stanza at the wrong moment.
        public static let wrongOrder = Kind(rawValue: "wrong_order")

        public var description: String { rawValue }
    }

    public let connection: SimConnectionID
    /// The device the connection logged in as, or registers for, when known.
    public let device: String?
    public let kind: Kind
    /// What was wrong; never key material.
    public let detail: String
    public let at: Date

    public init(connection: SimConnectionID, device: String?, kind: Kind, detail: String, at: Date) {
        self.connection = connection
        self.device = device
        self.kind = kind
        self.detail = detail
        self.at = at
    }

    public var description: String {
        "\(connection)\(device.map { " (\($0))" } ?? ""): \(kind): \(detail)"
    }
}

/// What a connection learns from elsewhere: the phone, another connection, or a fault.
public enum SimDelivery: Sendable {
    /// The phone of `account` scanned this connection's QR code.
    case scanned(PairingQR, account: SimAccount)
    /// The user typed `code` on the phone of `account` for this connection's code pairing.
    case codeEntered(LinkCode, account: SimAccount)
    /// The same device logged in on another connection: send conflict `replaced` and close.
    case replaced
    /// The phone unlinked this device: send stream:error 401 device_removed and close.
    case deviceRemoved
    /// The device's available prekeys dropped to `available`: send the `encrypt` notification.
    case preKeysLow(available: Int)
    case fault(SimFault)
}

/// The world's notes for statistics: every interesting thing, as it happens. Called outside the world's lock.
public enum SimWorldEvent: Sendable {
    case connectionOpened(SimConnectionID)
    case connectionClosed(SimConnectionID)
    case handshakeCompleted(SimConnectionID, isRegistration: Bool)
    case refsServed(SimConnectionID, count: Int)
    case loggedIn(SimConnectionID, device: JID)
    case loginRefused(SimConnectionID, reason: Int)
    case paired(SimConnectionID, device: JID)
    case unlinked(device: JID)
    /// A stable label such as `stream_error_515` or `drop_mid_handshake`.
    case faultApplied(SimConnectionID, String)
    case violation(SimViolation)
}

/// Why the phone's action could not happen.
public struct SimWorldError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String

        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        /// No account with this phone number.
        public static let unknownAccount = Code(rawValue: "unknown_account")
        /// The text is not a pairing QR string.
        public static let invalidQR = Code(rawValue: "invalid_qr")
        /// The QR's ref is expired, already used, or was never served.
        public static let unknownRef = Code(rawValue: "unknown_ref")
        /// The text is not a pairing code.
        public static let invalidCode = Code(rawValue: "invalid_code")
        /// No connection is waiting for a pairing code for this phone number.
        public static let noCodePairing = Code(rawValue: "no_code_pairing")

        public var description: String { rawValue }
    }

    public let code: Code

    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "SimWorldError(\(code))" }
}
