import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `pairgate wa-version`: asks web.whatsapp.com for the current web client revision, to refresh the configured version.
struct WAVersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wa-version",
        abstract: "Print the current WhatsApp Web version (2.3000.<client_revision>) fetched from web.whatsapp.com."
    )

    @Option(help: "Where to read client_revision from (the service worker script, as Baileys does).")
    var url: String = "https://web.whatsapp.com/sw.js"

    @Option(help: "Seconds to wait for an answer.")
    var timeout: Double = 15

    func run() async throws {
        guard let target = URL(string: url) else {
            throw ValidationError("not a URL: \(url)")
        }
        var request = URLRequest(url: target, timeoutInterval: timeout)
        // The site serves its scripts to browsers; a bare client gets an error page without the revision.
        request.setValue(WebClientRevision.browserUserAgent, forHTTPHeaderField: "User-Agent")
        request.setValue("script", forHTTPHeaderField: "Sec-Fetch-Dest")
        let body: Data
        let response: URLResponse
        do {
            (body, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw WAVersionUnavailable(
                "cannot reach \(target.host ?? url): \(error.localizedDescription). "
                    + "Without internet access keep the configured version, or set one by hand (2.3000.<revision>)."
            )
        }
        if let http = response as? HTTPURLResponse, http.statusCode != 200 {
            throw WAVersionUnavailable("\(url) answered HTTP \(http.statusCode); no version read.")
        }
        guard let revision = WebClientRevision.extract(from: String(decoding: body, as: UTF8.self)) else {
            throw WAVersionUnavailable("\(url) has no client_revision; the page format may have changed.")
        }
        print(WebClientRevision.version(revision))
    }
}

/// Reads WhatsApp Web's `client_revision` out of its page or service worker script.
public enum WebClientRevision {
    static let browserUserAgent =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

    /// The version string a client sends for `revision`.
    public static func version(_ revision: UInt64) -> String {
        "2.3000.\(revision)"
    }

    /// The number after `client_revision`, whether the JSON around it is plain (`"client_revision":123`)
    /// or escaped inside a script string (`\"client_revision\":123`); nil when absent.
    public static func extract(from text: String) -> UInt64? {
        var rest = Substring(text)
        while let found = rest.range(of: "client_revision") {
            rest = rest[found.upperBound...]
            var cursor = rest.drop { $0 == "\\" || $0 == "\"" }
            guard cursor.first == ":" else { continue }
            cursor = cursor.dropFirst().drop { $0 == " " || $0 == "\t" }
            let digits = cursor.prefix { $0.isASCII && $0.isNumber }
            if let revision = UInt64(digits), revision > 0 {
                return revision
            }
        }
        return nil
    }
}

/// Printed by ArgumentParser as `Error: …` with exit status 1, so scripts see the failure.
private struct WAVersionUnavailable: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
