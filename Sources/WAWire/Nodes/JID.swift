/// A WhatsApp address: `user@server`, `user:device@server`, or a bare server such as `s.whatsapp.net`.
///
/// Parsing and rendering follow whatsmeow (`types/jid.go`), plus Baileys' `integrator-user:device@interop`
/// so that an interop JID renders without losing its integrator.
public struct JID: Hashable, Sendable, CustomStringConvertible {
    /// The part after `@`; the servers WhatsApp uses are static members.
    public struct Server: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
        public let rawValue: String

        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        public init(stringLiteral value: String) {
            self.rawValue = value
        }

        /// Phone-number accounts and their devices.
        public static let whatsApp: Server = "s.whatsapp.net"
        /// Hidden-user (LID) accounts and their devices.
        public static let lid: Server = "lid"
        public static let group: Server = "g.us"
        public static let broadcast: Server = "broadcast"
        /// The pre-multi-device name of `s.whatsapp.net`.
        public static let legacyUser: Server = "c.us"
        public static let newsletter: Server = "newsletter"
        public static let hosted: Server = "hosted"
        public static let hostedLID: Server = "hosted.lid"
        /// Messenger accounts (written as FB_JID).
        public static let messenger: Server = "msgr"
        /// Interoperability accounts (written as INTEROP_JID).
        public static let interop: Server = "interop"
        public static let bot: Server = "bot"

        public var description: String {
            rawValue
        }
    }

    public var user: String
    /// The domain byte of an AD_JID that names no known server (the server is then `s.whatsapp.net`); usually 0.
    public var rawAgent: UInt8
    /// 0 is the main device (the phone); companions have 1 and up.
    public var device: UInt16
    /// Only for `interop` JIDs.
    public var integrator: UInt16
    public var server: Server

    public init(user: String = "", device: UInt16 = 0, server: Server, rawAgent: UInt8 = 0, integrator: UInt16 = 0) {
        self.user = user
        self.rawAgent = rawAgent
        self.device = device
        self.integrator = integrator
        self.server = server
    }

    /// `s.whatsapp.net`, the address of the server itself (the `to` of most IQs).
    public static let serverJID = JID(server: .whatsApp)

    /// Parses the forms `description` renders; nil for anything else (an empty string, an empty server,
    /// two `@`, a device or agent that is not a decimal number in range).
    public init?(parsing text: String) {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard let first = parts.first, !text.isEmpty else {
            return nil
        }
        if parts.count == 1 {
            self.init(server: Server(rawValue: text))
            return
        }
        guard parts.count == 2, !parts[1].isEmpty else {
            return nil
        }
        let server = Server(rawValue: String(parts[1]))
        var user = first
        var rawAgent: UInt8 = 0
        var device: UInt16 = 0
        var integrator: UInt16 = 0
        if let dot = user.firstIndex(of: ".") {
            let agentAndDevice = user[user.index(after: dot)...].split(separator: ":", omittingEmptySubsequences: false)
            guard agentAndDevice.count <= 2, let agent: UInt8 = Self.decimal(agentAndDevice[0]) else {
                return nil
            }
            rawAgent = agent
            if agentAndDevice.count == 2 {
                guard let value: UInt16 = Self.decimal(agentAndDevice[1]) else {
                    return nil
                }
                device = value
            }
            user = user[..<dot]
        } else if let colon = user.firstIndex(of: ":") {
            guard let value: UInt16 = Self.decimal(user[user.index(after: colon)...]) else {
                return nil
            }
            device = value
            user = user[..<colon]
        }
        if server == .interop, let dash = user.firstIndex(of: "-"), let value: UInt16 = Self.decimal(user[..<dash]) {
            integrator = value
            user = user[user.index(after: dash)...]
        }
        self.init(user: String(user), device: device, server: server, rawAgent: rawAgent, integrator: integrator)
    }

    /// The account without agent and device: `123:4@s.whatsapp.net` → `123@s.whatsapp.net`.
    public var userJID: JID {
        JID(user: user, server: server, integrator: integrator)
    }

    public var description: String {
        var user = user
        if server == .interop, integrator > 0 {
            user = "\(integrator)-\(user)"
        }
        if server.rawValue.isEmpty {
            return ""
        } else if rawAgent > 0 {
            return "\(user).\(rawAgent):\(device)@\(server.rawValue)"
        } else if device > 0 {
            return "\(user):\(device)@\(server.rawValue)"
        } else if !user.isEmpty {
            return "\(user)@\(server.rawValue)"
        }
        return server.rawValue
    }

    /// The AD_JID domain byte: fixed for the four servers that have one, else the raw agent (whatsmeow `ActualAgent`).
    public var domainType: UInt8 {
        switch server {
        case .whatsApp: 0
        case .lid: 1
        case .hosted: 128
        case .hostedLID: 129
        default: rawAgent
        }
    }

    /// The JID an AD_JID denotes (whatsmeow `NewADJID`): unknown domain bytes stay as the raw agent.
    init(user: String, domainType: UInt8, device: UInt8) {
        let server: Server
        var rawAgent: UInt8 = 0
        switch domainType {
        case 1: server = .lid
        case 128: server = .hosted
        case 129: server = .hostedLID
        default:
            server = .whatsApp
            rawAgent = domainType
        }
        self.init(user: user, device: UInt16(device), server: server, rawAgent: rawAgent)
    }

    private static func decimal<Value: FixedWidthInteger>(_ text: Substring) -> Value? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return Value(text)
    }
}
