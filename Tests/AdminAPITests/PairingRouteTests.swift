import AdminAPI
import DevicePool
import Foundation
import NIOHTTP1
import PairgateTestSupport
import PostgresStore
import Testing
import WAClient

@Suite("POST /pair, its event stream, its QR image and its page", .requiresDatabase)
struct PairingRouteTests {
    @Test func pairingAnswersWithTheFirstQRAndItsLinks() async throws {
        try await APIHarness.run { h in
            let (reply, session) = try await h.startQRPairing(h.acme, qr: "2@first-ref,AAA,BBB,CCC")
            #expect(reply.status == 201)
            #expect(session.intent == .pair(.qr))
            let body = reply.json
            #expect(body["status"] as? String == "showing")
            #expect(body["qr"] as? String == "2@first-ref,AAA,BBB,CCC")
            #expect(body["method"] as? String == "qr")
            let pairingID = try #require(body["pairing_id"] as? String)
            #expect(body["events_url"] as? String == "/pair/events?pairing=\(pairingID)")
            #expect(body["qr_svg_url"] as? String == "/pair/qr.svg?pairing=\(pairingID)")
            let page = try #require(body["page_url"] as? String)
            #expect(page.hasPrefix("http://acme.example/?pairing=\(pairingID)&expires="))
            #expect(page.contains("&sig="))
            #expect(body["expires_at"] is String)
            #expect(body["code_expires_at"] is String)
        }
    }

    @Test func codePairingNeedsAPhoneNumberAndShowsTheCode() async throws {
        try await APIHarness.run { h in
            let missing = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: #"{"method":"code"}"#)
            #expect(missing.status == 422)
            #expect(missing.json["code"] as? String == "validation_failed")
            let letters = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: #"{"method":"code","phone":"+1555abc4567"}"#)
            #expect(letters.status == 422)

            async let reply = h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: #"{"method":"code","phone":"+15551234567","name":"till 2"}"#)
            var sessions = h.node.upstream.sessions.makeAsyncIterator()
            let session = try #require(await sessions.next())
            #expect(session.intent == .pair(.code(phoneNumber: "15551234567")))
            session.emit(.pairingCode("ABCD-EFGH", validFor: .seconds(180)))
            let answer = try await reply
            #expect(answer.status == 201)
            #expect(answer.json["code"] as? String == "ABCD-EFGH")
            #expect(answer.json["qr"] == nil)
        }
    }

    @Test func aSecondPairingIs409WithRetryAfterAndTheActivePairing() async throws {
        try await APIHarness.run(instances: ["a", "b"]) { h in
            let (first, _) = try await h.startQRPairing(h.acme)
            let pairingID = try #require(first.json["pairing_id"] as? String)
            for node in [0, 1] {
                let second = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: #"{"method":"qr"}"#, node: node)
                #expect(second.status == 409)
                #expect(second.json["code"] as? String == "pairing_in_progress")
                let retry = try #require(second.header("Retry-After").flatMap(Int.init))
                let active = try #require(second.json["active_pairing"] as? [String: any Sendable])
                #expect(active["pairing_id"] as? String == pairingID)
                // Retry-After counts to the running pairing's deadline (on the gateway's clock).
                let expires = try #require((active["expires_at"] as? String).flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0) })
                #expect(abs(retry - Int(expires.timeIntervalSince(h.clock.date).rounded(.up))) <= 1)
            }
            // Another tenant is not affected.
            let (other, _) = try await h.startQRPairing(h.beta)
            #expect(other.status == 201)
        }
    }

    @Test func pairingRequestsAreRateLimitedPerTenant() async throws {
        try await APIHarness.run(configure: { $0.pairBurst = 1; $0.pairRatePerMinute = 1 }) { h in
            let (first, session) = try await h.startQRPairing(h.acme)
            #expect(first.status == 201)
            session.emit(.disconnected(DisconnectReason(stage: .pairing, category: .pairingTimeout, detail: "refs ran out")))
            let limited = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: #"{"method":"qr"}"#)
            #expect(limited.status == 429)
            #expect(limited.json["code"] as? String == "rate_limited")
            #expect(limited.header("Retry-After").flatMap(Int.init) ?? 0 >= 1)
        }
    }

    @Test func malformedBodiesGetProblemsWithStableCodes() async throws {
        try await APIHarness.run { h in
            let notJSON = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: "{method: qr")
            #expect(notJSON.status == 400)
            #expect(notJSON.json["code"] as? String == "invalid_json")
            let unknownMethod = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: #"{"method":"carrier-pigeon"}"#)
            #expect(unknownMethod.status == 400)
            let text = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: #"{"method":"qr"}"#, contentType: "text/plain")
            #expect(text.status == 415)
            #expect(text.json["code"] as? String == "unsupported_media_type")
            let huge = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token,
                                           json: #"{"method":"qr","name":""# + String(repeating: "x", count: 100_000) + #""}"#)
            #expect(huge.status == 413)
            #expect(huge.json["code"] as? String == "body_too_large")
            let otherDevice = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token,
                                                  json: #"{"method":"qr","device_id":"\#(UUID().uuidString)"}"#)
            #expect(otherDevice.status == 409)
            #expect(otherDevice.json["code"] as? String == "device_not_pairable")
        }
    }

    @Test func theEventStreamShowsQRsThenPairedAndCloses() async throws {
        try await APIHarness.run { h in
            let (reply, session) = try await h.startQRPairing(h.acme, qr: "QR-1")
            let eventsURL = try #require(reply.json["events_url"] as? String)
            let stream = try await h.events(eventsURL, host: h.acme.host, token: h.acme.token)
            #expect(stream.status == 200)
            #expect(stream.contentType == "text/event-stream")
            let state = try #require(try await stream.next())
            #expect(state.name == "state")
            #expect(state.json["status"] as? String == "running")
            // A watcher joining late gets the QR on show first.
            let current = try #require(try await stream.next())
            #expect(current.name == "qr")
            #expect(current.json["qr"] as? String == "QR-1")
            #expect((current.json["svg"] as? String)?.contains("fill=\"#fff\"") == true)

            session.emit(.qr(code: "QR-2", validFor: .seconds(20)))
            let rotated = try #require(try await stream.next())
            #expect(rotated.name == "qr")
            #expect(rotated.json["qr"] as? String == "QR-2")

            await session.pairSuccess(jid: "15551234567:4@s.whatsapp.net")
            let rest = try await stream.rest()
            #expect(rest.map(\.name) == ["paired"])
            #expect(rest.first?.json["number"] as? String == "•••4567")
        }
    }

    @Test func theEventStreamSendsHeartbeatsAndATimeout() async throws {
        try await APIHarness.run(configure: { $0.heartbeat = .seconds(15) }) { h in
            let (reply, session) = try await h.startQRPairing(h.acme)
            let before = h.clock.sleeperCount
            let stream = try await h.events(try #require(reply.json["events_url"] as? String), host: h.acme.host, token: h.acme.token)
            #expect(try await stream.next()?.name == "state")
            #expect(try await stream.next()?.name == "qr")
            // The stream's heartbeat and deadline timers sleep on the test clock.
            try await eventually("the stream's timers") { h.clock.sleeperCount >= before + 2 }
            h.clock.advance(by: .seconds(15))
            let heartbeat = try #require(try await stream.next())
            #expect(heartbeat.name == ":")
            session.emit(.disconnected(DisconnectReason(stage: .pairing, category: .pairingTimeout, detail: "refs ran out")))
            let rest = try await stream.rest().filter { $0.name != ":" }
            #expect(rest.map(\.name) == ["timeout"])
        }
    }

    @Test func anEndedPairingStreamsItsOutcomeAndCloses() async throws {
        try await APIHarness.run { h in
            let (reply, session) = try await h.startQRPairing(h.acme)
            let pairingID = try #require(reply.json["pairing_id"] as? String)
            session.emit(.disconnected(DisconnectReason(stage: .pairing, category: .pairingTimeout, detail: "refs ran out")))
            try await eventually("the pairing ended") {
                try await h.store.pairing(UUID(uuidString: pairingID)!)?.outcome == .timeout
            }
            let stream = try await h.events("/pair/events?pairing=\(pairingID)", host: h.acme.host, token: h.acme.token)
            let events = try await stream.rest()
            #expect(events.map(\.name) == ["state", "timeout"])
            #expect(events.first?.json["outcome"] as? String == "timeout")
            let none = try await h.request(.GET, "/pair/events", host: h.acme.host, token: h.acme.token)
            #expect(none.status == 404)
            #expect(none.json["code"] as? String == "no_active_pairing")
        }
    }

    @Test func aWatcherOnAnotherInstanceGetsTheUpdatesThroughTheBus() async throws {
        try await APIHarness.run(instances: ["a", "b"]) { h in
            let (reply, session) = try await h.startQRPairing(h.acme, qr: "QR-1", node: 0)
            let eventsURL = try #require(reply.json["events_url"] as? String)
            let stream = try await h.events(eventsURL, host: h.acme.host, token: h.acme.token, node: 1)
            #expect(try await stream.next()?.name == "state")
            // Instance b never saw QR-1: it asks the owner to replay it.
            let replayed = try #require(try await stream.next())
            #expect(replayed.json["qr"] as? String == "QR-1")
            session.emit(.qr(code: "QR-2", validFor: .seconds(20)))
            #expect(try await stream.next()?.json["qr"] as? String == "QR-2")
            await session.pairSuccess(jid: "15551234567:4@s.whatsapp.net")
            #expect(try await stream.rest().map(\.name) == ["paired"])
        }
    }

    @Test func theQRImageIsOurSVGOnWhite() async throws {
        try await APIHarness.run { h in
            let none = try await h.request(.GET, "/pair/qr.svg", host: h.acme.host, token: h.acme.token)
            #expect(none.status == 404)
            let (reply, _) = try await h.startQRPairing(h.acme, qr: "2@ref,key,key,adv")
            let svg = try await h.request(.GET, try #require(reply.json["qr_svg_url"] as? String), host: h.acme.host, token: h.acme.token)
            #expect(svg.status == 200)
            #expect(svg.header("Content-Type") == "image/svg+xml")
            #expect(svg.body.hasPrefix("<svg"))
            #expect(svg.body.contains("<rect width=") && svg.body.contains("fill=\"#fff\""))
            let other = try await h.request(.GET, try #require(reply.json["qr_svg_url"] as? String), host: h.beta.host, token: h.beta.token)
            #expect(other.status == 404)
            #expect(other.json["code"] as? String == "pairing_not_found")
        }
    }

    @Test func thePageOpensWithTheSignedLinkAndRefusesAlteredOrExpiredOnes() async throws {
        try await APIHarness.run { h in
            let (reply, _) = try await h.startQRPairing(h.acme, qr: "2@ref,key,key,adv")
            let pageURL = try #require(reply.json["page_url"] as? String)
            let page = try #require(URLComponents(string: pageURL))
            let query = try #require(page.percentEncodedQuery)
            let opened = try await h.request(.GET, "/?\(query)", host: h.acme.host)
            #expect(opened.status == 200)
            #expect(opened.header("Content-Type") == "text/html; charset=utf-8")
            #expect(opened.body.contains("<svg"))
            #expect(opened.body.contains("new EventSource"))
            #expect(opened.body.contains("/pair/events?\(query)"))

            // The link also opens the event stream and the QR image, without a token.
            let stream = try await h.events("/pair/events?\(query)", host: h.acme.host)
            #expect(stream.status == 200)
            #expect(try await stream.next()?.name == "state")
            #expect(try await h.request(.GET, "/pair/qr.svg?\(query)", host: h.acme.host).status == 200)
            // ...but not the tenant's API.
            #expect(try await h.request(.GET, "/status?\(query)", host: h.acme.host).status == 401)

            let altered = query.replacingOccurrences(of: "expires=", with: "expires=9")
            let forged = try await h.request(.GET, "/?\(altered)", host: h.acme.host)
            #expect(forged.status == 403)
            #expect(forged.body.contains("not valid"))
            #expect(!forged.body.contains("<svg"))
            let elsewhere = try await h.request(.GET, "/?\(query)", host: h.beta.host)
            #expect(elsewhere.status == 403)
            let forgedStream = try await h.request(.GET, "/pair/events?\(altered)", host: h.acme.host)
            #expect(forgedStream.status == 401)
            #expect(forgedStream.json["code"] as? String == "link_invalid")

            h.clock.advance(by: .seconds(400))
            let expired = try await h.request(.GET, "/?\(query)", host: h.acme.host)
            #expect(expired.status == 410)
            #expect(expired.body.contains("expired"))
            #expect(!expired.body.contains("<svg"))
            let expiredStream = try await h.request(.GET, "/pair/events?\(query)", host: h.acme.host)
            #expect(expiredStream.json["code"] as? String == "link_expired")
            let bare = try await h.request(.GET, "/", host: h.acme.host)
            #expect(bare.status == 401)
            #expect(bare.header("Content-Type") == "text/html; charset=utf-8")
        }
    }
}
