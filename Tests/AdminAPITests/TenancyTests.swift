import AdminAPI
import Foundation
import NIOCore
import NIOHTTP1
import PairgateTestSupport
import Testing
import WAClient

@Suite("Host routing and authentication", .requiresDatabase)
struct TenancyTests {
    @Test func anUnknownHostIs404WithoutNamingAnyTenant() async throws {
        try await APIHarness.run { h in
            let reply = try await h.request(.GET, "/status", host: "nobody.example", token: h.acme.token)
            #expect(reply.status == 404)
            #expect(reply.header("Content-Type") == "application/problem+json")
            #expect(reply.json["code"] as? String == "unknown_host")
            for secret in ["acme", "Acme", "beta", "Beta", h.acme.id.uuidString.lowercased()] {
                #expect(!reply.body.contains(secret))
            }
            let raw = try await h.request(.GET, "/status", host: "127.0.0.1", token: h.acme.token)
            #expect(raw.status == 404)
        }
    }

    @Test func theHostMatchesWithoutPortAndCase() async throws {
        try await APIHarness.run { h in
            for host in ["acme.example", "ACME.Example:8443", "acme.example.", "acme.example:80"] {
                let reply = try await h.request(.GET, "/status", host: host, token: h.acme.token)
                #expect(reply.status == 200, "host \(host)")
            }
            let suffix = try await h.request(.GET, "/status", host: "x.acme.example", token: h.acme.token)
            #expect(suffix.status == 404)
        }
    }

    @Test func aMissingOrWrongTokenIs401WithAChallenge() async throws {
        try await APIHarness.run { h in
            let missing = try await h.request(.GET, "/status", host: h.acme.host)
            #expect(missing.status == 401)
            #expect(missing.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            #expect(missing.json["code"] as? String == "unauthorized")
            let wrong = try await h.request(.GET, "/status", host: h.acme.host, token: "pgt_not-a-real-token")
            #expect(wrong.status == 401)
            let basic = try await h.request(.GET, "/status", host: h.acme.host, headers: [("Authorization", "Basic Zm9vOmJhcg==")])
            #expect(basic.status == 401)
        }
    }

    @Test func oneTenantsTokenOnAnotherTenantsHostIs401() async throws {
        try await APIHarness.run { h in
            let reply = try await h.request(.GET, "/status", host: h.beta.host, token: h.acme.token)
            #expect(reply.status == 401)
            #expect(!reply.body.contains("Acme"))
            let pair = try await h.request(.POST, "/pair", host: h.beta.host, token: h.acme.token, json: #"{"method":"qr"}"#)
            #expect(pair.status == 401)
        }
    }

    @Test func forwardedHostCountsOnlyFromTrustedProxies() async throws {
        try await APIHarness.run { h in
            // 127.0.0.1 is not trusted here: the header is ignored and Host decides.
            let ignored = try await h.request(.GET, "/status", host: h.beta.host, token: h.acme.token,
                                              headers: [("X-Forwarded-Host", h.acme.host)])
            #expect(ignored.status == 401)
        }
        try await APIHarness.run(configure: { $0.trustedProxies = try! TrustedProxies(parsing: ["127.0.0.0/8"]) }) { h in
            // Proxies append: the last value is the one the trusted proxy wrote, the ones before it
            // are whatever the client sent.
            let believed = try await h.request(.GET, "/status", host: "proxy.internal", token: h.acme.token,
                                               headers: [("X-Forwarded-Host", "beta.example, ACME.example:443")])
            #expect(believed.status == 200)
            let spoofed = try await h.request(.GET, "/status", host: "proxy.internal", token: h.acme.token,
                                              headers: [("X-Forwarded-Host", "acme.example, beta.example")])
            #expect(spoofed.status == 401)
            // Links are built for the address the client used.
            async let pair = h.request(.POST, "/pair", host: "proxy.internal", token: h.acme.token, json: #"{"method":"qr"}"#,
                                       headers: [("X-Forwarded-Host", "acme.example:8443"), ("X-Forwarded-Proto", "https")])
            var sessions = h.node.upstream.sessions.makeAsyncIterator()
            try #require(await sessions.next()).emit(.qr(code: "QR", validFor: .seconds(60)))
            let link = try #require(try await pair.json["page_url"] as? String)
            #expect(link.hasPrefix("https://acme.example:8443/?pairing="))
        }
    }

    @Test func trustedProxyRangesMatchIPv4AndIPv6() throws {
        let proxies = try TrustedProxies(parsing: ["10.0.0.0/8", "192.168.1.7", "fd00::/8"])
        #expect(proxies.contains(try .init(ipAddress: "10.200.3.4", port: 1)))
        #expect(proxies.contains(try .init(ipAddress: "192.168.1.7", port: 1)))
        #expect(!proxies.contains(try .init(ipAddress: "192.168.1.8", port: 1)))
        #expect(proxies.contains(try .init(ipAddress: "fd12::1", port: 1)))
        #expect(proxies.contains(try .init(ipAddress: "::ffff:10.1.1.1", port: 1)))
        #expect(!proxies.contains(try .init(ipAddress: "fe80::1", port: 1)))
        #expect(throws: TrustedProxyError.self) { try TrustedProxies(parsing: ["10.0.0.0/33"]) }
        #expect(throws: TrustedProxyError.self) { try TrustedProxies(parsing: ["proxy.example"]) }
    }

    @Test func revokingATokenOrDisablingATenantTakesEffectAtOnce() async throws {
        // A long cache: only the invalidation can make these changes visible.
        try await APIHarness.run(configure: { $0.tenantCacheTTL = .seconds(3600) }) { h in
            let issued = try await h.admin(.POST, "/admin/tenants/\(h.acme.id.uuidString)/tokens", json: #"{"label":"ci"}"#)
            #expect(issued.status == 201)
            let token = try #require(issued.json["token"] as? String)
            let tokenID = try #require(issued.json["id"] as? String)
            #expect(try await h.request(.GET, "/status", host: h.acme.host, token: token).status == 200)
            #expect(try await h.admin(.DELETE, "/admin/tenants/\(h.acme.id.uuidString)/tokens/\(tokenID)").status == 204)
            #expect(try await h.request(.GET, "/status", host: h.acme.host, token: token).status == 401)
            #expect(try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token).status == 200)

            #expect(try await h.admin(.POST, "/admin/tenants/\(h.acme.id.uuidString)/disable").status == 200)
            let disabled = try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token)
            #expect(disabled.status == 403)
            #expect(disabled.json["code"] as? String == "tenant_disabled")
            #expect(try await h.admin(.POST, "/admin/tenants/\(h.acme.id.uuidString)/enable").status == 200)
            #expect(try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token).status == 200)

            #expect(try await h.admin(.DELETE, "/admin/tenants/\(h.acme.id.uuidString)/hosts/acme.example").status == 204)
            #expect(try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token).status == 404)
        }
    }

    @Test func anotherInstanceForgetsCachedTenancyThroughTheBus() async throws {
        try await APIHarness.run(instances: ["a", "b"], configure: { $0.tenantCacheTTL = .seconds(3600) }) { h in
            #expect(try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token, node: 1).status == 200)
            #expect(try await h.admin(.POST, "/admin/tenants/\(h.acme.id.uuidString)/disable").status == 200)
            try await eventually("instance b sees the tenant disabled") {
                try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token, node: 1).status == 403
            }
        }
    }
}
