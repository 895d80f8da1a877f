import WAWire

/// The `to` of POST /messages: an international phone number (`+` and 7 to 15 digits, E.164), a
/// user JID (`<digits>@s.whatsapp.net`, `<digits>@lid`) without a device, or a group JID
/// (`<digits>@g.us`, or the older `<digits>-<digits>@g.us`). Whether the account is in the group is
/// known only when the device asks the server (the message then fails `group_not_found` or
/// `not_group_member`).
public enum OutboundRecipient {
    /// The chat `to` names, or nil when it is malformed.
    public static func parse(_ to: String) -> JID? {
        if to.hasSuffix("@g.us") {
            return group(to)
        }
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

extension OutboundRecipient {
    /// `<1–40 digits>@g.us`, or `<1–19 digits>-<1–20 digits>@g.us` (a creator's number and a time).
    private static func group(_ to: String) -> JID? {
        let user = to.dropLast("@g.us".count)
        let parts = user.split(separator: "-", omittingEmptySubsequences: false)
        let limits = parts.count == 1 ? [40] : [19, 20]
        guard (1...2).contains(parts.count),
              zip(parts, limits).allSatisfy({ part, limit in (1...limit).contains(part.count) && part.allSatisfy(\.isASCIIDigit) })
        else {
            return nil
        }
        let jid = JID(user: String(user), server: .group)
        return jid.description == to ? jid : nil
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool {
        isASCII && isNumber
    }
}
