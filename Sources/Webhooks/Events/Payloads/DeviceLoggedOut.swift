import Foundation

/// `device.logged_out`: the device's credentials were wiped and it will not reconnect; a person
/// must pair it again. This is the "needs re-authentication" alert.
public struct DeviceLoggedOut: Sendable, Hashable, Codable {
    /// `logged_out` (the phone removed the device, or WhatsApp ended the session) or `reset`
    /// (a `POST /reset` with `mode: logout`).
    public var reason: String
    /// The disconnect's detail when WhatsApp ended it (`failure 401`, `stream:error device_removed`).
    public var detail: String?
    /// The linked number, masked as in /status (`+1555•••4567`); null if it was never known.
    public var number: String?

    public init(reason: String, detail: String?, number: String?) {
        self.reason = reason
        self.detail = detail
        self.number = number
    }

    /// A JID's number masked as GET /status shows it: `+1555•••4567` (two and two digits for
    /// numbers of eight digits or fewer); nil for anything that is not a phone number's JID.
    public static func maskedNumber(jid: String?) -> String? {
        guard let jid else { return nil }
        let digits = String(jid.prefix { $0 != ":" && $0 != "@" && $0 != "." })
        guard !digits.isEmpty, digits.allSatisfy(\.isNumber) else { return nil }
        let shown = digits.count <= 8 ? 2 : 4
        return "+" + digits.prefix(shown) + "•••" + digits.suffix(shown)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(reason, forKey: .reason)
        try container.encode(detail, forKey: .detail)
        try container.encode(number, forKey: .number)
    }
}
