import Foundation

/// A `Retry-After` header (RFC 9110 §10.2.3): a number of seconds, or an HTTP-date in any of the
/// three forms a recipient must accept. Parsed from a receiver's answer, so it never traps and
/// reads at most a short header.
public enum RetryAfter: Sendable, Hashable {
    case seconds(Int)
    case date(Date)

    /// Longer values are not a Retry-After any receiver means; the policy caps the wait anyway.
    static let maximumLength = 64
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let shortDays: Set<String> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    private static let longDays: Set<String> = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

    /// nil when the value is neither form.
    public init?(headerValue: String) {
        let text = headerValue.trimmingCharacters(in: [" ", "\t"])
        guard !text.isEmpty, text.utf8.count <= Self.maximumLength, text.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else { return nil }
        if text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            // Nine digits are 31 years; anything longer waits as long as the cap allows.
            self = .seconds(text.utf8.count > 9 ? 999_999_999 : Int(text) ?? 0)
            return
        }
        guard let date = Self.httpDate(text) else { return nil }
        self = .date(date)
    }

    /// How long to wait from `now`; a date in the past means no wait.
    public func delay(from now: Date) -> Duration {
        switch self {
        case .seconds(let seconds):
            return .seconds(seconds)
        case .date(let date):
            let interval = date.timeIntervalSince(now)
            return interval > 0 ? .milliseconds(Int64((interval * 1000).rounded(.up))) : .zero
        }
    }

    // MARK: HTTP-date

    private static func httpDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true).map { $0.lowercased() }
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        if parts.count == 6, parts[0].hasSuffix(","), shortDays.contains(String(parts[0].dropLast())), parts[5] == "gmt",
           parts[1].count == 2, let day = Int(parts[1]), let month = months.firstIndex(of: parts[2]),
           parts[3].count == 4, let year = Int(parts[3]) {
            return date(year: year, month: month + 1, day: day, time: parts[4])
        }
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        if parts.count == 4, parts[0].hasSuffix(","), longDays.contains(String(parts[0].dropLast())), parts[3] == "gmt" {
            let fields = parts[1].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3, fields[0].count == 2, let day = Int(fields[0]), let month = months.firstIndex(of: fields[1]),
                  fields[2].count == 2, let shortYear = Int(fields[2])
            else { return nil }
            return date(year: shortYear < 70 ? 2000 + shortYear : 1900 + shortYear, month: month + 1, day: day, time: parts[2])
        }
        // asctime: Sun Nov  6 08:49:37 1994
        if parts.count == 5, shortDays.contains(parts[0]), let month = months.firstIndex(of: parts[1]),
           (1...2).contains(parts[2].count), let day = Int(parts[2]), parts[4].count == 4, let year = Int(parts[4]) {
            return date(year: year, month: month + 1, day: day, time: parts[3])
        }
        return nil
    }

    private static func date(year: Int, month: Int, day: Int, time: String) -> Date? {
        let fields = time.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 3, fields.allSatisfy({ $0.count == 2 && $0.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }),
              let hour = Int(fields[0]), let minute = Int(fields[1]), let second = Int(fields[2]),
              hour < 24, minute < 60, second < 61, (1970...9999).contains(year),
              (1...EventTime.daysIn(month: Int64(month), year: Int64(year))).contains(Int64(day))
        else { return nil }
        let days = EventTime.days(fromCivil: Int64(year), Int64(month), Int64(day))
        let seconds = ((days * 24 + Int64(hour)) * 60 + Int64(minute)) * 60 + Int64(min(second, 59))
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}
