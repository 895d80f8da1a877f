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
    /// A stanza queued for the device this connection delivers to: write it and wait for its answer.
    case stanza(SimStanza)
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
    /// A contact (or, with `isContact` false, an account's phone) sent a message; `devices` copies were queued.
    case messageSent(from: String, isContact: Bool, devices: Int)
    /// The connection wrote `count` queued stanzas to the device, `redelivered` of which it had been sent before.
    case stanzasOffered(SimConnectionID, device: JID, count: Int, redelivered: Int)
    /// The device answered a queued stanza, which left the queue.
    case stanzaAnswered(device: JID)
    /// The device refused a stanza with an error ack; it stays queued.
    case stanzaRefused(device: JID)
    /// The device's retry receipt was answered with a new encryption.
    case retryAnswered(device: JID)
    /// The device left a stanza unanswered past the deadline: `<stream:error><ack/>`, closed.
    case ackDeadlineMissed(SimConnectionID, device: JID)
    /// The devices' prekeys changed (an upload, or keys handed out): worth saving.
    case preKeysChanged(devices: [JID])
    /// The server accepted a `<message>` the device sent.
    case messageAccepted(device: JID)
    /// The server refused a `<message>` the device sent with this error (429 rate-overlimit, 479 unreadable).
    case messageRefused(device: JID, code: Int)
    /// A simulated phone handled its copy of the device's message `id`, which came on `connection` at
    /// `at`: a contact's (by phone number), or with `contact` nil the account's own phone.
    case messageRead(device: JID, contact: String?, outcome: SimReceiveOutcome, id: String, connection: SimConnectionID, at: Date)
    /// A copy of the device's 1:1 message `id` was queued for another linked device of its account.
    case messageRelayed(device: JID, to: JID, id: String)
    /// A prekey fetch handed out `count` bundles: each sets up a new session (X3DH) on the sender.
    case preKeyBundlesServed(count: Int)
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
        /// No contact with this phone number.
        public static let unknownContact = Code(rawValue: "unknown_contact")
        /// No group with this id.
        public static let unknownGroup = Code(rawValue: "unknown_group")
        /// The contact is not a member of the group.
        public static let notAMember = Code(rawValue: "not_a_member")
        /// The sender's keys could not encrypt (a corrupt stored key).
        public static let encryptionFailed = Code(rawValue: "encryption_failed")

        public var description: String { rawValue }
    }

    public let code: Code

    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "SimWorldError(\(code))" }
}
