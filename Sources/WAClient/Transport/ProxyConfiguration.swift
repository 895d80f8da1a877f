import Foundation

/// A proxy that one device's connections go through: HTTP CONNECT or SOCKS5, optionally with a username
/// and password. Secret: its `description` never shows the password.
public struct ProxyConfiguration: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// An HTTP proxy that tunnels with `CONNECT host:port` (Basic credentials when given).
        case httpConnect = "http"
        /// A SOCKS5 proxy (RFC 1928); username/password authentication (RFC 1929) when given.
        case socks5
    }

    public var kind: Kind
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?

    public init(kind: Kind, host: String, port: Int, username: String? = nil, password: String? = nil) {
        self.kind = kind
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// Parses `http://user:pass@host:port` or `socks5://user:pass@host:port` (credentials optional,
    /// percent-encoded when they contain `:` or `@`); nil for anything else.
    public init?(url: String) {
        guard let schemeEnd = url.range(of: "://") else {
            return nil
        }
        switch url[..<schemeEnd.lowerBound].lowercased() {
        case "http": kind = .httpConnect
        case "socks5", "socks5h": kind = .socks5
        default: return nil
        }
        var rest = url[schemeEnd.upperBound...]
        if rest.hasSuffix("/") {
            rest = rest.dropLast()
        }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = Self.percentDecoded(parts[0]) else {
                return nil
            }
            username = user
            if parts.count == 2 {
                guard let secret = Self.percentDecoded(parts[1]) else {
                    return nil
                }
                password = secret
            }
        }
        guard let endpoint = UpstreamEndpoint.hostAndPort(rest), let port = endpoint.port, !endpoint.host.isEmpty else {
            return nil
        }
        host = endpoint.host
        self.port = port
    }

    public var description: String {
        let credentials = username.map { "\($0):***@" } ?? ""
        return "\(kind.rawValue)://\(credentials)\(host):\(port)"
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let first = utf8.index(after: index)
                guard first < utf8.endIndex, utf8.index(after: first) < utf8.endIndex,
                    let high = hexValue(utf8[first]), let low = hexValue(utf8[utf8.index(after: first)])
                else {
                    return nil
                }
                bytes.append(high << 4 | low)
                index = utf8.index(first, offsetBy: 2)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
