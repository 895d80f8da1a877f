import Foundation

/// The client's side of opening a tunnel through a proxy, as a pure state machine over bytes:
/// `start()` gives the first bytes to send, `receive(_:)` takes what the proxy answered.
struct ProxyHandshake: Sendable {
    /// What to do after the proxy's bytes were read.
    enum Step: Sendable, Hashable {
        /// Wait for more bytes.
        case waiting
        /// Send these bytes, then wait.
        case send([UInt8])
        /// The tunnel is open; `leftover` already belongs to the upstream.
        case established(leftover: [UInt8])
    }

    private enum State: Sendable {
        case idle
        case awaitingHTTPResponse
        case awaitingMethod
        case awaitingAuthentication
        case awaitingConnectReply
        case established
        case failed
    }

    /// HTTP response headers larger than this are refused rather than buffered.
    static let maximumResponseSize = 16 * 1024

    private let proxy: ProxyConfiguration
    private let targetHost: String
    private let targetPort: Int
    private var state = State.idle
    private var buffer: [UInt8] = []

    init(proxy: ProxyConfiguration, targetHost: String, targetPort: Int) {
        self.proxy = proxy
        self.targetHost = targetHost
        self.targetPort = targetPort
    }

    /// The first bytes to send once the TCP connection to the proxy is open.
    mutating func start() throws(ProxyError) -> [UInt8] {
        switch proxy.kind {
        case .httpConnect:
            state = .awaitingHTTPResponse
            return connectRequest()
        case .socks5:
            state = .awaitingMethod
            // Offering "no authentication" too lets an open proxy pick it; with credentials we prefer them.
            return proxy.username == nil ? [0x05, 0x01, 0x00] : [0x05, 0x02, 0x00, 0x02]
        }
    }

    /// Reads bytes from the proxy; throws once and for all when the proxy refuses or talks nonsense.
    mutating func receive(_ bytes: [UInt8]) throws(ProxyError) -> Step {
        buffer += bytes
        do {
            return try advance()
        } catch {
            state = .failed
            buffer = []
            throw error
        }
    }

    private mutating func advance() throws(ProxyError) -> Step {
        switch state {
        case .idle, .established, .failed:
            throw ProxyError(.malformedResponse, detail: "bytes from the proxy at the wrong moment")
        case .awaitingHTTPResponse:
            return try httpResponse()
        case .awaitingMethod:
            return try socksMethod()
        case .awaitingAuthentication:
            return try socksAuthentication()
        case .awaitingConnectReply:
            return try socksConnectReply()
        }
    }

    // MARK: HTTP CONNECT

    private func connectRequest() -> [UInt8] {
        let authority = targetHost.contains(":") ? "[\(targetHost)]:\(targetPort)" : "\(targetHost):\(targetPort)"
        var request = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n"
        if let username = proxy.username {
            let token = Data("\(username):\(proxy.password ?? "")".utf8).base64EncodedString()
            request += "Proxy-Authorization: Basic \(token)\r\n"
        }
        return Array((request + "\r\n").utf8)
    }

    private mutating func httpResponse() throws(ProxyError) -> Step {
        guard let end = Self.endOfHeaders(in: buffer) else {
            guard buffer.count <= Self.maximumResponseSize else {
                throw ProxyError(.malformedResponse, detail: "the CONNECT response headers exceed \(Self.maximumResponseSize) bytes")
            }
            return .waiting
        }
        let statusLine = buffer.prefix { $0 != UInt8(ascii: "\r") }
        let fields = String(decoding: statusLine, as: UTF8.self).split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), let status = Int(fields[1]), (100...599).contains(status) else {
            throw ProxyError(.malformedResponse, detail: "the proxy did not answer CONNECT with an HTTP status line")
        }
        switch status {
        case 200...299:
            return established(after: end)
        case 407 where proxy.username == nil:
            throw ProxyError(.authenticationRequired, status: status, detail: "the HTTP proxy requires credentials")
        case 407:
            throw ProxyError(.authenticationFailed, status: status, detail: "the HTTP proxy refused the credentials")
        default:
            throw ProxyError(.tunnelRefused, status: status, detail: "the HTTP proxy answered CONNECT with \(status)")
        }
    }

    private static func endOfHeaders(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else {
            return nil
        }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 0x0D && bytes[index + 1] == 0x0A && bytes[index + 2] == 0x0D && bytes[index + 3] == 0x0A {
            return index + 4
        }
        return nil
    }

    // MARK: SOCKS5 (RFC 1928, RFC 1929)

    private mutating func socksMethod() throws(ProxyError) -> Step {
        guard buffer.count >= 2 else {
            return .waiting
        }
        guard buffer[0] == 0x05 else {
            throw ProxyError(.malformedResponse, detail: "the proxy does not speak SOCKS5")
        }
        let method = buffer[1]
        consume(2)
        switch method {
        case 0x00:
            return try sendConnect()
        case 0x02 where proxy.username != nil:
            state = .awaitingAuthentication
            return .send(try authenticationRequest())
        case 0xFF:
            throw ProxyError(.authenticationRequired, status: Int(method), detail: "the SOCKS5 proxy accepts none of our authentication methods")
        default:
            throw ProxyError(.malformedResponse, status: Int(method), detail: "the SOCKS5 proxy chose a method we did not offer")
        }
    }

    private func authenticationRequest() throws(ProxyError) -> [UInt8] {
        let username = Array((proxy.username ?? "").utf8)
        let password = Array((proxy.password ?? "").utf8)
        guard (1...255).contains(username.count), (1...255).contains(password.count) else {
            throw ProxyError(.invalidRequest, detail: "SOCKS5 usernames and passwords must be 1 to 255 bytes")
        }
        return [0x01, UInt8(username.count)] + username + [UInt8(password.count)] + password
    }

    private mutating func socksAuthentication() throws(ProxyError) -> Step {
        guard buffer.count >= 2 else {
            return .waiting
        }
        let (version, status) = (buffer[0], buffer[1])
        consume(2)
        guard version == 0x01 else {
            throw ProxyError(.malformedResponse, detail: "the SOCKS5 authentication reply has version \(version)")
        }
        guard status == 0x00 else {
            throw ProxyError(.authenticationFailed, status: Int(status), detail: "the SOCKS5 proxy refused the credentials")
        }
        return try sendConnect()
    }

    private mutating func sendConnect() throws(ProxyError) -> Step {
        var request: [UInt8] = [0x05, 0x01, 0x00]
        if let address = Self.ipv4Bytes(targetHost) {
            request += [0x01] + address
        } else {
            let name = Array(targetHost.utf8)
            guard (1...255).contains(name.count) else {
                throw ProxyError(.invalidRequest, detail: "SOCKS5 host names must be 1 to 255 bytes")
            }
            request += [0x03, UInt8(name.count)] + name
        }
        request += [UInt8(truncatingIfNeeded: targetPort >> 8), UInt8(truncatingIfNeeded: targetPort)]
        state = .awaitingConnectReply
        return .send(request)
    }

    private mutating func socksConnectReply() throws(ProxyError) -> Step {
        guard buffer.count >= 5 else {
            return .waiting
        }
        guard buffer[0] == 0x05 else {
            throw ProxyError(.malformedResponse, detail: "the SOCKS5 connect reply has version \(buffer[0])")
        }
        guard buffer[1] == 0x00 else {
            throw ProxyError(.tunnelRefused, status: Int(buffer[1]), detail: "the SOCKS5 proxy could not connect: \(Self.replyText(buffer[1]))")
        }
        let addressLength: Int
        switch buffer[3] {
        case 0x01: addressLength = 4
        case 0x04: addressLength = 16
        case 0x03: addressLength = 1 + Int(buffer[4])
        default:
            throw ProxyError(.malformedResponse, detail: "the SOCKS5 connect reply has address type \(buffer[3])")
        }
        let replyLength = 4 + addressLength + 2
        guard buffer.count >= replyLength else {
            return .waiting
        }
        return established(after: replyLength)
    }

    private static func replyText(_ code: UInt8) -> String {
        switch code {
        case 0x01: "general failure"
        case 0x02: "not allowed by the ruleset"
        case 0x03: "network unreachable"
        case 0x04: "host unreachable"
        case 0x05: "connection refused"
        case 0x06: "TTL expired"
        case 0x07: "command not supported"
        case 0x08: "address type not supported"
        default: "reply \(code)"
        }
    }

    private static func ipv4Bytes(_ host: String) -> [UInt8]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else {
            return nil
        }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = UInt8(part) else {
                return nil
            }
            bytes.append(value)
        }
        return bytes
    }

    // MARK: Buffer

    private mutating func established(after count: Int) -> Step {
        let leftover = Array(buffer[count...])
        buffer = []
        state = .established
        return .established(leftover: leftover)
    }

    private mutating func consume(_ count: Int) {
        buffer.removeFirst(count)
    }
}
