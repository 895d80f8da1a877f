/// A phone number as Pairgate shows it anywhere outside the database — API answers, pages, event
/// streams, logs: only its last four digits, `•••4567`.
public enum MaskedNumber {
    /// The masked number of a JID whose user part is a phone number (`15551234567:4@s.whatsapp.net`);
    /// nil for any other JID (a LID, a group).
    public static func from(jid: String?) -> String? {
        guard let jid else { return nil }
        let digits = jid.prefix { $0 != ":" && $0 != "@" && $0 != "." }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        // Four digits or fewer would be the whole number.
        return digits.count > 4 ? "•••" + digits.suffix(4) : "•••"
    }
}
