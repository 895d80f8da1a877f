import AsyncHTTPClient
import FleetHarness
import Foundation
import NIOCore
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import Testing

/// Errors answered as docs/api.md says: the right status and a problem document with a stable
/// code, also for the failures that are not the caller's (a database outage) and for requests
/// that never reach a handler (a body too large, a malformed request).
@Suite("Errors as documented", .requiresDatabase)
struct ErrorContractTests {
    @Test func aChunkedBodyOverTheLimitIs413() async throws {
        try await APIHarness.run { h in
            var request = h.makeRequest(.POST, "/pair", host: h.acme.host, token: h.acme.token)
            request.headers.add(name: "Content-Type", value: "application/json")
            // No length: the body goes out chunked, and only reading it finds it too large.
            let (chunks, sink) = AsyncStream.makeStream(of: ByteBuffer.self)
            for _ in 0..<100 { sink.yield(ByteBuffer(string: String(repeating: " ", count: 1024))) }
            sink.finish()
            request.body = .stream(chunks, length: .unknown)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(response.status == .payloadTooLarge)
            #expect(response.headers.first(name: "Content-Type") == "application/problem+json")
            #expect(body.contains(#""code":"body_too_large""#))
        }
    }

    @Test func aDatabaseOutageIs503WithRetryAfterAndThePageSaysSoInHTML() async throws {
        try await APIHarness.run(databaseProxy: true) { h in
            // Host and token lookups are cached now; what fails next is the routes' own reads.
            #expect(try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token).status == 200)
            #expect(try await h.request(.GET, "/", host: h.acme.host, token: h.acme.token).status == 404)
            await h.proxy?.stop()

            let status = try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token)
            #expect(status.status == 503)
            #expect(status.header("Content-Type") == "application/problem+json")
            #expect(status.json["code"] as? String == "database_unavailable")
            #expect(status.header("Retry-After").flatMap(Int.init) ?? 0 >= 1)

            let page = try await h.request(.GET, "/", host: h.acme.host, token: h.acme.token)
            #expect(page.status == 503)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            #expect(page.header("Retry-After") != nil)
            #expect(page.body.contains("<main"))
        }
    }

    @Test func readinessKeepsTheDatabasesAddressAndUserOutOfItsBody() async throws {
        try await APIHarness.run(databaseProxy: true) { h in
            await h.proxy?.stop()
            let ready = try await h.request(.GET, "/readyz", host: nil)
            #expect(ready.status == 503)
            #expect(ready.json["code"] as? String == "database_unavailable")
            let port = try #require(URLComponents(string: h.gatewayPool.configuration.url)?.port)
            for secret in ["127.0.0.1", String(port), "postgres", "refused", "password", "user"] {
                #expect(!ready.body.contains(secret), "\(secret) in \(ready.body)")
            }
        }
    }

    @Test func bodiesThatAreNotTheExpectedJSONAreProblems() async throws {
        try await APIHarness.run { h in
            for body in ["", "{method: qr", "[]", "null", #"{"method":5}"#, #"{"method":"qr","name":7}"#,
                         #"{"method":"qr","device_id":"not-a-uuid"}"#, #"{"method":"qr","phone":null}"#] {
                let reply = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: body)
                #expect(reply.status == 400, "\(body)")
                #expect(reply.header("Content-Type") == "application/problem+json", "\(body)")
                #expect(reply.json["code"] as? String == "invalid_json", "\(body)")
            }
            let reset = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"all":"yes"}"#)
            #expect(reset.json["code"] as? String == "invalid_json")
            let limit = try await h.request(.GET, "/status?limit=many", host: h.acme.host, token: h.acme.token)
            #expect(limit.status == 422)
            #expect(limit.json["code"] as? String == "validation_failed")
        }
    }

    @Test func aRequestTheHTTPParserRefusesIsAProblemToo() async throws {
        try await APIHarness.run { h in
            let connection = try await RawConnection(port: h.node.port)
            try await connection.send("GET /healthz HTTP/1.1\r\nHost: acme.example\r\nNot a header\r\n\r\n")
            try await eventually("the answer") { connection.isClosed && !connection.received.isEmpty }
            let answer = connection.received
            #expect(answer.hasPrefix("HTTP/1.1 400"))
            #expect(answer.lowercased().contains("content-type: application/problem+json"))
            #expect(answer.contains(#""code":"bad_request""#))
            await connection.close()
        }
    }

    /// What schemathesis found with a pairing open: query parameters the contract types are checked
    /// even when a token, not the link, opens the route.
    @Test func pairingRoutesRefuseMalformedQueryParametersWithAToken() async throws {
        try await APIHarness.run { h in
            _ = try await h.startQRPairing(h.acme, qr: "2@ref,key,key,adv")
            for query in ["pairing=", "pairing=not-a-uuid"] {
                let page = try await h.request(.GET, "/?\(query)", host: h.acme.host, token: h.acme.token)
                #expect(page.status == 422, "\(query)")
                #expect(page.header("Content-Type") == "text/html; charset=utf-8")
                #expect(!page.body.contains("<svg"))
            }
            for path in ["/pair/qr.svg?expires=null", "/pair/qr.svg?expires=", "/pair/events?expires=soon", "/?expires=null"] {
                let reply = try await h.request(.GET, path, host: h.acme.host, token: h.acme.token)
                #expect(reply.status == 422, "\(path)")
            }
            #expect(try await h.request(.GET, "/pair/qr.svg?expires=1900000000", host: h.acme.host, token: h.acme.token).status == 200)
            #expect(try await h.request(.GET, "/", host: h.acme.host, token: h.acme.token).status == 200)
        }
    }
}
