import Foundation
import Testing
import Webhooks

/// `Retry-After` in both of its forms, and everything else refused.
@Suite struct RetryAfterTests {
    static let date = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT

    @Test(arguments: [("0", 0), ("120", 120), (" 7 ", 7), ("86400", 86_400), ("99999999999999999999", 999_999_999)])
    func secondsAreParsed(text: String, seconds: Int) {
        #expect(RetryAfter(headerValue: text) == .seconds(seconds))
    }

    /// RFC 9110's three HTTP-date forms, all for the same instant.
    @Test(arguments: ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "sun, 06 nov 1994 08:49:37 gmt"])
    func httpDatesAreParsed(text: String) {
        #expect(RetryAfter(headerValue: text) == .date(Self.date))
    }

    @Test(arguments: [
        "", " ", "-1", "1.5", "soon", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT", String(repeating: "1", count: 65),
        "Sun, 06 Nov 1994 08:49:37 GMT\u{0}",
    ])
    func anythingElseIsNotARetryAfter(text: String) {
        #expect(RetryAfter(headerValue: text) == nil)
    }

    @Test func delaysCountFromTheGivenNow() {
        #expect(RetryAfter.seconds(30).delay(from: Self.date) == .seconds(30))
        #expect(RetryAfter.date(Self.date.addingTimeInterval(90)).delay(from: Self.date) == .seconds(90))
        #expect(RetryAfter.date(Self.date).delay(from: Self.date.addingTimeInterval(5)) == .zero)
    }
}
