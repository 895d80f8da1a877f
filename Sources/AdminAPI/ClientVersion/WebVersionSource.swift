import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where the current WhatsApp Web version is read: web.whatsapp.com's service worker script
/// carries the web client's `client_revision` (Baileys reads the same), and the version a
/// client announces is 2.3000.<revision>. `pairgate wa-version` and the gateway's checks use it.
public struct WebVersionSource: Sendable {
    /// WhatsApp Web's service worker.
    public static let whatsApp = URL(string: "https://web.whatsapp.com/sw.js")!

    public var url: URL
    /// How long one fetch may take in all.
    public var timeout: Duration

    public init(url: URL = WebVersionSource.whatsApp, timeout: Duration = .seconds(15)) {
        self.url = url
        self.timeout = timeout
    }

    /// The current version, `2.3000.<revision>`; throws `WebVersionUnavailable` saying why not.
    public func fetch() async throws -> String {
        let timeout = self.timeout
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await self.read() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let version = try await group.next() ?? nil else {
                throw WebVersionUnavailable("\(url.host ?? url.absoluteString) did not answer within \(timeout)")
            }
            return version
        }
    }

    private func read() async throws -> String {
        var request = URLRequest(url: url, timeoutInterval: Double(timeout.components.seconds) + 1)
        // The site serves its scripts to browsers; a bare client gets an error page without the revision.
        request.setValue(WebClientRevision.browserUserAgent, forHTTPHeaderField: "User-Agent")
        request.setValue("script", forHTTPHeaderField: "Sec-Fetch-Dest")
        let body: Data
        let response: URLResponse
        do {
            (body, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw WebVersionUnavailable("cannot reach \(url.host ?? url.absoluteString): \(error.localizedDescription)")
        }
        if let http = response as? HTTPURLResponse, http.statusCode != 200 {
            throw WebVersionUnavailable("\(url.absoluteString) answered HTTP \(http.statusCode); no version read")
        }
        guard let revision = WebClientRevision.extract(from: String(decoding: body, as: UTF8.self)) else {
            throw WebVersionUnavailable("\(url.absoluteString) has no client_revision; the page format may have changed")
        }
        return WebClientRevision.version(revision)
    }
}

/// The version could not be read; the description says why (never a secret: the source is public).
public struct WebVersionUnavailable: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
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
