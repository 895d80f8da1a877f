/// Where the WebSocket lives: parsed from a `ws://` or `wss://` URL.
public struct UpstreamEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// WhatsApp Web's chat socket.
    public static let whatsApp = UpstreamEndpoint(url: "wss://web.whatsapp.com/ws/chat")!

    /// Whether the socket runs over TLS (`wss`).
    public var secure: Bool
    /// The host name or IP address (IPv6 without brackets).
    public var host: String
    public var port: Int
    /// The request target: path and query, at least `/`.
    public var target: String

    public init(secure: Bool, host: String, port: Int, target: String = "/ws/chat") {
        self.secure = secure
        self.host = host
        self.port = port
        self.target = target
    }

    /// nil unless `url` is `ws://host[:port][/path]` or `wss://…` with a valid port.
    public init?(url: String) {
        let lowered = url.lowercased()
        let rest: Substring
        if lowered.hasPrefix("wss://") {
            secure = true
            rest = url.dropFirst(6)
        } else if lowered.hasPrefix("ws://") {
            secure = false
            rest = url.dropFirst(5)
        } else {
            return nil
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        guard let authority = Self.hostAndPort(rest[..<authorityEnd]), !authority.host.isEmpty, !authority.host.contains("@")
        else {
            return nil
        }
        host = authority.host
        port = authority.port ?? (secure ? 443 : 80)
        let path = rest[authorityEnd...]
        target = path.isEmpty ? "/" : (path.first == "?" ? "/" + path : String(path))
    }

    /// The `Host` header: the port only when it is not the scheme's default.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }

    public var description: String {
        "\(secure ? "wss" : "ws")://\(hostHeader)\(target)"
    }

    /// Splits `host`, `host:port`, `[v6]` or `[v6]:port`; nil when the port is not 1…65535.
    static func hostAndPort(_ authority: Substring) -> (host: String, port: Int?)? {
        var host: Substring
        var portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else {
                return nil
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else {
                    return nil
                }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard let portText else {
            return (String(host), nil)
        }
        guard let port = Int(portText), (1...65535).contains(port) else {
            return nil
        }
        return (String(host), port)
    }
}
