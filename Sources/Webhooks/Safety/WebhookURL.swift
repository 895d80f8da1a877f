/// A receiver's URL that passed validation: absolute http(s), no credentials, an ASCII host name
/// or an IP literal the policy allows, a port, and a path and query in RFC 3986's characters.
/// A host name is checked again after DNS at every delivery (`DeliveryClient`).
public struct WebhookURL: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable {
        case http, https

        var defaultPort: Int { self == .https ? 443 : 80 }
    }

    /// Longer URLs are refused; no receiver needs more, and the URL is stored and logged.
    public static let maximumLength = 2048

    public let scheme: Scheme
    /// Lowercased, without brackets or a trailing dot.
    public let host: String
    public let port: Int
    /// The path and query sent in the request line; `/` when the URL has no path.
    public let target: String
    /// The address when the host is an IP literal; nil for a name, which DNS resolves.
    public let literalAddress: IPAddress?

    /// Validates `text` for registration: syntax and, for IP literals and `localhost` names, the
    /// address policy. Names are resolved and checked at delivery, where it counts.
    public init(validating text: String, policy: AddressPolicy) throws(WebhookURLError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw WebhookURLError(.invalidURL, "the URL is empty") }
        guard bytes.count <= Self.maximumLength else {
            throw WebhookURLError(.invalidURL, "the URL is longer than \(Self.maximumLength) bytes")
        }
        guard bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw WebhookURLError(.invalidURL, "the URL has spaces, control or non-ASCII characters (percent-encode them; use punycode for international names)")
        }
        guard !bytes.contains(UInt8(ascii: "\\")) else { throw WebhookURLError(.invalidURL, "the URL has a backslash") }
        guard !bytes.contains(UInt8(ascii: "#")) else {
            throw WebhookURLError(.invalidURL, "the URL has a fragment (#…), which is never sent to a server")
        }

        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
              let first = bytes.first, Self.isLetter(first),
              bytes[..<colon].allSatisfy({ Self.isLetter($0) || Self.isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
        else { throw WebhookURLError(.invalidURL, "the URL is not absolute (it needs https://…)") }
        let schemeText = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
        guard let scheme = Scheme(rawValue: schemeText) else {
            throw WebhookURLError(.unsupportedScheme, "only http and https URLs can receive webhooks")
        }
        let afterScheme = bytes[(colon + 1)...]
        guard afterScheme.starts(with: "//".utf8) else { throw WebhookURLError(.invalidURL, "the URL has no host (it needs \(schemeText)://host/…)") }
        let rest = afterScheme.dropFirst(2)
        let authorityEnd = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard !authority.contains(UInt8(ascii: "@")) else {
            throw WebhookURLError(.credentialsInURL, "the URL has a user name or password; receivers check the signature instead")
        }

        let (hostBytes, portBytes) = try Self.splitAuthority(authority)
        var port = scheme.defaultPort
        if let portBytes {
            guard (1...5).contains(portBytes.count), portBytes.allSatisfy(Self.isDigit), portBytes.first != UInt8(ascii: "0"),
                  let value = Int(String(decoding: portBytes, as: UTF8.self)), (1...65535).contains(value)
            else { throw WebhookURLError(.invalidURL, "the port must be a number from 1 to 65535, without leading zeros") }
            port = value
        }
        let (host, literal) = try Self.validateHost(hostBytes)

        var target = String(decoding: rest[authorityEnd...], as: UTF8.self)
        try Self.validateTarget(Array(target.utf8))
        if !target.hasPrefix("/") { target = "/" + target }

        if let literal, let category = AddressPolicy.category(of: literal), !policy.allows(literal) {
            throw WebhookURLError(.privateAddress, "the host is a \(category.rawValue) address", category: category)
        }
        if literal == nil, !policy.allowPrivate, host == "localhost" || host.hasSuffix(".localhost") {
            throw WebhookURLError(.privateAddress, "localhost names resolve to the loopback address", category: .loopback)
        }

        self.scheme = scheme
        self.host = host
        self.port = port
        self.target = target
        self.literalAddress = literal
    }

    /// The normalized URL that requests are sent to.
    public var absoluteString: String { origin + target }

    /// The URL without its query, for logs and events: queries often carry the receiver's token.
    public var redacted: String {
        origin + (target.firstIndex(of: "?").map { String(target[..<$0]) } ?? target)
    }

    public var description: String { redacted }

    /// The host as it appears in a URL: IPv6 literals in brackets.
    var hostForURL: String {
        if case .v6 = literalAddress { return "[\(host)]" }
        return host
    }

    private var origin: String {
        let portPart = port == scheme.defaultPort ? "" : ":\(port)"
        return "\(scheme.rawValue)://\(hostForURL)\(portPart)"
    }

    // MARK: Parts

    private static func splitAuthority(_ authority: ArraySlice<UInt8>) throws(WebhookURLError) -> (ArraySlice<UInt8>, ArraySlice<UInt8>?) {
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else {
                throw WebhookURLError(.invalidURL, "the IPv6 address has no closing bracket")
            }
            let after = authority[(close + 1)...]
            guard after.isEmpty || after.first == UInt8(ascii: ":") else {
                throw WebhookURLError(.invalidURL, "unexpected characters after the IPv6 address")
            }
            return (authority[authority.startIndex..<(close + 1)], after.isEmpty ? nil : after.dropFirst())
        }
        let colons = authority.indices.filter { authority[$0] == UInt8(ascii: ":") }
        guard colons.count <= 1 else { throw WebhookURLError(.invalidURL, "an IPv6 host must be in brackets") }
        guard let colon = colons.first else { return (authority, nil) }
        return (authority[..<colon], authority[(colon + 1)...])
    }

    /// The normalized host and, for an IP literal, its address.
    private static func validateHost(_ raw: ArraySlice<UInt8>) throws(WebhookURLError) -> (String, IPAddress?) {
        guard !raw.isEmpty else { throw WebhookURLError(.invalidURL, "the URL has no host") }
        if raw.first == UInt8(ascii: "[") {
            let inside = String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
            guard inside.contains(":"), let address = IPAddress(inside) else {
                throw WebhookURLError(.invalidURL, "the bracketed host is not an IPv6 address (zones are not supported)")
            }
            return (address.description, address)
        }
        var name = String(decoding: raw, as: UTF8.self).lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if name.utf8.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }), let address = IPAddress(name) {
            return (address.description, address)
        }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard !name.isEmpty, name.utf8.count <= 253, labels.allSatisfy(isValidLabel) else {
            throw WebhookURLError(.invalidURL, "the host is not a valid DNS name (letters, digits and hyphens, labels of 1 to 63)")
        }
        // `127.1`, `2130706433` or `0x7f.1` reach 127.0.0.1 through inet_aton's shorthands; a
        // real name's last label (a top-level domain, `xn--…` included) starts with a letter.
        if let last = labels.last?.utf8.first, !isLetter(last) {
            throw WebhookURLError(.invalidURL, "a host name's last label starts with a letter (a numeric host must be a dotted-quad IPv4 address)")
        }
        return (name, nil)
    }

    private static func isValidLabel(_ label: Substring) -> Bool {
        let bytes = Array(label.utf8)
        guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "-") }
    }

    /// Path and query: RFC 3986's pchar, `/` and `?`, with well-formed percent escapes.
    private static func validateTarget(_ bytes: [UInt8]) throws(WebhookURLError) {
        let allowed = Set("-._~!$&'()*+,;=:@/?%".utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard isLetter(byte) || isDigit(byte) || allowed.contains(byte) else {
                throw WebhookURLError(.invalidURL, "the path or query has characters that must be percent-encoded")
            }
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, isHexDigit(bytes[index + 1]), isHexDigit(bytes[index + 2]) else {
                    throw WebhookURLError(.invalidURL, "the path or query has a malformed percent escape")
                }
                index += 2
            }
            index += 1
        }
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) }
    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
    private static func isHexDigit(_ byte: UInt8) -> Bool { isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20) }
}
