import Foundation
import NIOCore
import NIOEmbedded
import Testing
@testable import WAClient

@Suite("Proxy handshakes and addresses")
struct TransportProxyTests {
    // MARK: Configuration parsing

    @Test func proxyURLsParseWithCredentials() throws {
        let http = try #require(ProxyConfiguration(url: "http://alice:s%40cret@proxy.example:3128"))
        #expect(http == ProxyConfiguration(kind: .httpConnect, host: "proxy.example", port: 3128, username: "alice", password: "s@cret"))
        let socks = try #require(ProxyConfiguration(url: "socks5://bob:pw@[::1]:1080/"))
        #expect(socks == ProxyConfiguration(kind: .socks5, host: "::1", port: 1080, username: "bob", password: "pw"))
        #expect(ProxyConfiguration(url: "socks5://127.0.0.1:1080")?.username == nil)
        #expect("\(http)" == "http://alice:***@proxy.example:3128")
    }

    @Test func proxyURLsWithoutPortOrWithOtherSchemesAreRefused() {
        #expect(ProxyConfiguration(url: "http://proxy.example") == nil)
        #expect(ProxyConfiguration(url: "ftp://proxy.example:21") == nil)
        #expect(ProxyConfiguration(url: "socks5://host:99999") == nil)
        #expect(ProxyConfiguration(url: "http://user:%zz@host:1") == nil)
    }

    @Test func upstreamURLsParseWithDefaultPorts() throws {
        let whatsApp = try #require(UpstreamEndpoint(url: "wss://web.whatsapp.com/ws/chat"))
        #expect(whatsApp == UpstreamEndpoint(secure: true, host: "web.whatsapp.com", port: 443, target: "/ws/chat"))
        #expect(whatsApp.hostHeader == "web.whatsapp.com")
        let local = try #require(UpstreamEndpoint(url: "ws://127.0.0.1:8080/ws/chat?x=1"))
        #expect(local.port == 8080 && !local.secure && local.target == "/ws/chat?x=1")
        #expect(local.hostHeader == "127.0.0.1:8080")
        #expect(UpstreamEndpoint(url: "ws://[::1]:9")?.hostHeader == "[::1]:9")
        #expect(UpstreamEndpoint(url: "ws://host")?.target == "/")
        #expect(UpstreamEndpoint(url: "https://web.whatsapp.com") == nil)
        #expect(UpstreamEndpoint(url: "ws://:80/") == nil)
    }

    // MARK: HTTP CONNECT

    @Test func httpConnectSendsBasicCredentialsAndKeepsBytesAfterTheResponse() throws {
        let proxy = ProxyConfiguration(kind: .httpConnect, host: "p", port: 1, username: "alice", password: "secret")
        var handshake = ProxyHandshake(proxy: proxy, targetHost: "web.whatsapp.com", targetPort: 443)
        let request = String(decoding: try handshake.start(), as: UTF8.self)
        #expect(request == "CONNECT web.whatsapp.com:443 HTTP/1.1\r\nHost: web.whatsapp.com:443\r\nProxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n")
        #expect(try handshake.receive(Array("HTTP/1.1 200 Connection established\r\n".utf8)) == .waiting)
        #expect(try handshake.receive(Array("\r\nabc".utf8)) == .established(leftover: Array("abc".utf8)))
    }

    @Test func httpConnectRefusalsAreTyped() throws {
        let anonymous = ProxyConfiguration(kind: .httpConnect, host: "p", port: 1)
        var first = ProxyHandshake(proxy: anonymous, targetHost: "h", targetPort: 443)
        _ = try first.start()
        #expect(throws: ProxyError(.authenticationRequired, status: 407, detail: "the HTTP proxy requires credentials")) {
            try first.receive(Array("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n".utf8))
        }
        var second = ProxyHandshake(proxy: anonymous, targetHost: "h", targetPort: 443)
        _ = try second.start()
        #expect(throws: ProxyError(.tunnelRefused, status: 403, detail: "the HTTP proxy answered CONNECT with 403")) {
            try second.receive(Array("HTTP/1.0 403 Forbidden\r\n\r\n".utf8))
        }
        var third = ProxyHandshake(proxy: anonymous, targetHost: "h", targetPort: 443)
        _ = try third.start()
        let garbage = [UInt8](repeating: 0x41, count: ProxyHandshake.maximumResponseSize + 1)
        #expect(throws: ProxyError.self) { try third.receive(garbage) }
    }

    // MARK: SOCKS5

    @Test func socks5AuthenticatesWithUsernameAndPasswordThenConnectsByName() throws {
        let proxy = ProxyConfiguration(kind: .socks5, host: "p", port: 1, username: "bob", password: "pw")
        var handshake = ProxyHandshake(proxy: proxy, targetHost: "web.whatsapp.com", targetPort: 443)
        #expect(try handshake.start() == [0x05, 0x02, 0x00, 0x02])
        #expect(try handshake.receive([0x05]) == .waiting)
        #expect(try handshake.receive([0x02]) == .send([0x01, 0x03] + Array("bob".utf8) + [0x02] + Array("pw".utf8)))
        let connect: [UInt8] = [0x05, 0x01, 0x00, 0x03, 16] + Array("web.whatsapp.com".utf8) + [0x01, 0xBB]
        #expect(try handshake.receive([0x01, 0x00]) == .send(connect))
        #expect(try handshake.receive([0x05, 0x00, 0x00, 0x01, 10, 0, 0]) == .waiting)
        #expect(try handshake.receive([1, 0x04, 0x38, 0xFF]) == .established(leftover: [0xFF]))
    }

    @Test func socks5ConnectsToIPv4LiteralsByAddressWithoutAuthentication() throws {
        var handshake = ProxyHandshake(proxy: ProxyConfiguration(kind: .socks5, host: "p", port: 1), targetHost: "127.0.0.1", targetPort: 8080)
        #expect(try handshake.start() == [0x05, 0x01, 0x00])
        #expect(try handshake.receive([0x05, 0x00]) == .send([0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x1F, 0x90]))
        #expect(try handshake.receive([0x05, 0x00, 0x00, 0x03, 1, 0x41, 0, 80]) == .established(leftover: []))
    }

    @Test func socks5RefusalsNameTheStep() throws {
        let proxy = ProxyConfiguration(kind: .socks5, host: "p", port: 1, username: "bob", password: "wrong")
        var badPassword = ProxyHandshake(proxy: proxy, targetHost: "h", targetPort: 1)
        _ = try badPassword.start()
        _ = try badPassword.receive([0x05, 0x02])
        #expect(throws: ProxyError(.authenticationFailed, status: 1, detail: "the SOCKS5 proxy refused the credentials")) {
            try badPassword.receive([0x01, 0x01])
        }
        var noMethod = ProxyHandshake(proxy: ProxyConfiguration(kind: .socks5, host: "p", port: 1), targetHost: "h", targetPort: 1)
        _ = try noMethod.start()
        #expect(throws: ProxyError.self) { try noMethod.receive([0x05, 0xFF]) }
        var refused = ProxyHandshake(proxy: ProxyConfiguration(kind: .socks5, host: "p", port: 1), targetHost: "h", targetPort: 1)
        _ = try refused.start()
        _ = try refused.receive([0x05, 0x00])
        #expect(throws: ProxyError(.tunnelRefused, status: 5, detail: "the SOCKS5 proxy could not connect: connection refused")) {
            try refused.receive([0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0])
        }
        #expect(throws: ProxyError.self) { try refused.receive([0x00]) }
    }

    @Test func socks5RefusesOverlongCredentialsBeforeSendingThem() throws {
        let long = String(repeating: "x", count: 256)
        var handshake = ProxyHandshake(proxy: ProxyConfiguration(kind: .socks5, host: "p", port: 1, username: long, password: "pw"), targetHost: "h", targetPort: 1)
        _ = try handshake.start()
        #expect(throws: ProxyError.self) { try handshake.receive([0x05, 0x02]) }
    }

    // MARK: The channel handler

    @Test func proxyHandlerHoldsChannelActiveUntilTheTunnelIsOpen() throws {
        let channel = EmbeddedChannel()
        let recorder = ActivityRecorder()
        try channel.pipeline.syncOperations.addHandler(
            ProxyHandler(proxy: ProxyConfiguration(kind: .socks5, host: "p", port: 1), targetHost: "10.0.0.1", targetPort: 443)
        )
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(bytes: [0x05, 0x01, 0x00]))
        #expect(recorder.events == ["proxy connected"])
        try channel.writeInbound(ByteBuffer(bytes: [0x05, 0x00]))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(bytes: [0x05, 0x01, 0x00, 0x01, 10, 0, 0, 1, 0x01, 0xBB]))
        try channel.writeInbound(ByteBuffer(bytes: [0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x16]))
        #expect(recorder.events == ["proxy connected", "active", "read 1"])
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: ProxyHandler.self) }
        _ = try channel.finish()
    }

    @Test func proxyHandlerFiresTheRefusalAsAnError() throws {
        let channel = EmbeddedChannel()
        let recorder = ActivityRecorder()
        try channel.pipeline.syncOperations.addHandler(
            ProxyHandler(proxy: ProxyConfiguration(kind: .httpConnect, host: "p", port: 1), targetHost: "h", targetPort: 443)
        )
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 502 Bad Gateway\r\n\r\n"))
        #expect(recorder.errors == [ProxyError(.tunnelRefused, status: 502, detail: "the HTTP proxy answered CONNECT with 502")])
        #expect(!recorder.events.contains("active"))
        _ = try? channel.finish()
    }
}

/// Records what reaches the end of a test pipeline.
final class ActivityRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var events: [String] = []
    var errors: [ProxyError] = []

    func channelActive(context: ChannelHandlerContext) {
        events.append("active")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        events.append("read \(unwrapInboundIn(data).readableBytes)")
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ProxyHandler.Connected {
            events.append("proxy connected")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? ProxyError {
            errors.append(error)
        }
    }
}
