import WAWire

/// The `to` of POST /messages: an international phone number (`+` and 7 to 15 digits, E.164) or a
/// user JID (`<digits>@s.whatsapp.net`, `<digits>@lid`) without a device. Groups are not sent to yet.
public enum OutboundRecipient {
    /// The chat `to` names, or nil when it is malformed.
    public static func parse(_ to: String) -> JID? {
        if to.hasPrefix("+") {
            let digits = to.dropFirst()
            guard (7...15).contains(digits.count), digits.first != "0", digits.allSatisfy(\.isASCIIDigit) else {
                return nil
            }
            return JID(user: String(digits), server: .whatsApp)
        }
        guard to.utf8.count <= 64, let jid = JID(parsing: to), jid.server == .whatsApp || jid.server == .lid,
              jid.device == 0, jid.rawAgent == 0, !jid.user.isEmpty, jid.user.utf8.count <= 20,
              jid.user.allSatisfy(\.isASCIIDigit), jid.description == to
        else {
            return nil
        }
        return jid
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool {
        isASCII && isNumber
    }
}
