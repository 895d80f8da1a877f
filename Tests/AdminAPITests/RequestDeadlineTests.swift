@testable import AdminAPI
import DevicePool
import FleetHarness
import Foundation
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Synchronization
import Testing
import WAClient

/// A request is answered by its deadline whatever its handler waits for, and the database waits it
/// makes end at that deadline too. Elapsed times are checked against generous upper bounds only,
/// to tell "answered at the deadline" from "answered when the handler gave up".
@Suite("Request deadlines", .requiresDatabase)
struct RequestDeadlineTests {
    @Test func aHandlerStuckOnItsDeviceIsAnsweredAtTheDeadline() async throws {
        // POST /pair answers at once instead of waiting for the first code, which a loaded
        // machine may not produce within the 3 s deadline this test sets for the reset.
        try await APIHarness.run(configure: {
            $0.requestTimeout = .seconds(8)
            $0.firstCodeWait = .zero
        }) { h in
            let (deviceID, session) = try await h.connectedDevice(h.acme, jid: "15551234567:4@s.whatsapp.net")
            // The upstream never answers the logout, and the device waits for it without a bound.
            session.holdLogout()
            // Released also when a request below throws: a logout held forever would hold the teardown.
            defer { session.releaseLogout() }
            let clock = ContinuousClock()
            let started = clock.now
            let reply = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token,
                                            json: #"{"device_id":"\#(deviceID.uuidString)","mode":"logout"}"#)
            #expect(reply.status == 503)
            #expect(reply.json["code"] as? String == "request_timeout")
            #expect(reply.header("Retry-After") != nil)
            // Answered at the 8 s deadline, not never: the bound leaves room for a loaded machine.
            #expect(clock.now - started < .seconds(30))
        }
    }

    @Test func aSilentDatabaseCostsARequestItsDeadlineAndAConnectionNoLonger() async throws {
        try await APIHarness.run(
            configure: { $0.requestTimeout = .seconds(3) },
            // The webhook workers' own statements (a poll each second) would wait out the
            // partition too; this test is about the requests' statements, so they stay asleep.
            webhooks: {
                $0.pollInterval = .seconds(3600)
                $0.backlogInterval = .seconds(3600)
                $0.upkeepInterval = .seconds(3600)
            },
            databaseProxy: true,
            // Far beyond the test: only the request's deadline can end the statement's wait.
            configureDatabase: { $0.responseTimeout = .seconds(120) }
        ) { h in
            // Warm: connections open, statements prepared, host and token cached (a loaded machine
            // may need more than one try within the short deadline).
            try await eventually("a first answer") {
                try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token).status == 200
            }
            await h.proxy?.blackhole()
            let clock = ContinuousClock()
            for _ in 0..<2 {
                let started = clock.now
                let reply = try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token)
                #expect(reply.status == 503)
                #expect(reply.header("Retry-After") != nil)
                #expect(clock.now - started < .seconds(15))
            }
            // The statements waited only as long as their requests: no connection is still busy
            // with them (the manual clock keeps the pool's own loops asleep).
            try await eventually("the stuck statements gave their connections up") {
                let counts = h.gatewayPool.counts
                return counts.open == counts.idle
            }
            await h.proxy?.heal()
            try await eventually("answers again once the database does") {
                try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token).status == 200
            }
        }
    }

    @Test func resetAllResetsDevicesConcurrentlyWithABound() async throws {
        try await APIHarness.run(configure: {
            $0.resetConcurrency = 2
            $0.forwardTimeout = .seconds(60)
        }) { h in
            // Three devices another live instance ("ghost", played by this test) runs.
            let ids: [UUID] = try await h.pool.query("""
                INSERT INTO devices (tenant_id, state, lease_owner, lease_expires_at, lease_epoch)
                SELECT $1, 'online', 'ghost', now() + interval '1 hour', 1 FROM generate_series(1, 3)
                RETURNING id
                """, [h.acme.id]).map { try $0.decode(0) }
            let ghost = try FakeOwner(pool: h.pool, name: "ghost")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await ghost.run() }
                try await eventually("the ghost listening") { ghost.isListening }
                async let reply = h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"all":true}"#)

                try await eventually("two resets in flight at once") { ghost.requests.count == 2 }
                try await ghost.answer(ghost.requests[0])
                try await eventually("the third reset") { ghost.requests.count == 3 }
                // Never more than two at once: the third was sent only after an answer.
                #expect(ghost.answeredWhenSeen[2] >= 1)
                for request in ghost.requests.dropFirst() { try await ghost.answer(request) }

                let results = try #require(try await reply.json["results"] as? [[String: any Sendable]])
                #expect(results.count == 3)
                #expect(results.allSatisfy { $0["result"] as? String == "applied" })
                #expect(Set(results.compactMap { ($0["device_id"] as? String).flatMap(UUID.init(uuidString:)) }) == Set(ids))
                group.cancelAll()
            }
        }
    }
}

/// Another gateway instance as the fleet bus sees it: it hears the resets addressed to it and
/// answers them when the test says so.
final class FakeOwner: Sendable {
    let name: String
    private let pool: PostgresPool
    private let listener: PostgresListener
    private let state = Mutex<(listening: Bool, requests: [(ResetRequest, from: String)], answered: Int, answeredWhenSeen: [Int])>(
        (false, [], 0, [])
    )

    init(pool: PostgresPool, name: String) throws {
        self.pool = pool
        self.name = name
        listener = try PostgresListener(configuration: pool.configuration, channels: [FleetMessage.channel], logger: TestDatabase.logger)
    }

    var isListening: Bool { state.withLock { $0.listening } }
    var requests: [(ResetRequest, from: String)] { state.withLock { $0.requests } }
    /// For each request, how many answers had been sent when it arrived.
    var answeredWhenSeen: [Int] { state.withLock { $0.answeredWhenSeen } }

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listener.run() }
            for await event in listener.events {
                switch event {
                case .listening:
                    state.withLock { $0.listening = true }
                case .notification(let notification):
                    guard let message = try? JSONDecoder().decode(FleetMessage.self, from: Data(notification.payload.utf8)),
                          case .reset(let request) = message.body, request.to == name
                    else { continue }
                    state.withLock { state in
                        state.requests.append((request, message.from))
                        state.answeredWhenSeen.append(state.answered)
                    }
                }
            }
            group.cancelAll()
        }
    }

    func answer(_ request: (ResetRequest, from: String)) async throws {
        state.withLock { $0.answered += 1 }
        let reply = FleetMessage(from: name, body: .resetResult(ResetReply(id: request.0.id, to: request.from, outcome: .applied(.connecting))))
        try await pool.notify(channel: FleetMessage.channel, payload: try reply.payload())
    }
}
