import AdminAPI
import DevicePool
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import PairgateTestSupport
import PostgresClient
import PostgresStore
import ServiceLifecycle
import Synchronization
import Testing
import WAClient

/// The fleet's WhatsApp Web version: stored in PostgreSQL, set by an operator or found newer at
/// its source (here a local HTTP server standing in for web.whatsapp.com), used by every
/// instance for new connections, and looked for at once when WhatsApp answers 405.
@Suite("Client version across the fleet", .requiresDatabase)
struct ClientVersionRouteTests {
    static let pinned = "2.3000.1045649367"

    @Test func anOperatorSetsTheVersionForTheWholeFleet() async throws {
        try await APIHarness.run(instances: ["a", "b"]) { h in
            let before = try await h.request(.GET, "/admin/client-version", host: nil, token: APIHarness.adminToken)
            #expect(before.status == 200)
            #expect(before.json["in_use"] as? String == Self.pinned)
            #expect(before.json["stored"] as? String == Self.pinned)
            #expect(before.json["source"] as? String == "configuration")

            let set = try await h.request(.PUT, "/admin/client-version", host: nil, token: APIHarness.adminToken,
                                          json: #"{"version":"2.3000.1050000000"}"#)
            #expect(set.status == 200)
            #expect(set.json["in_use"] as? String == "2.3000.1050000000")
            #expect(set.json["stored"] as? String == "2.3000.1050000000")
            #expect(set.json["source"] as? String == "admin")
            #expect(set.json["updated_by"] as? String == "a")
            // The other instance hears it over the fleet bus and uses it for its new connections.
            try await eventually("b uses it") { h.nodes[1].supervisor.clientVersion == "2.3000.1050000000" }
            let status = try await h.request(.GET, "/status", host: h.acme.host, token: h.acme.token, node: 1)
            #expect(status.json["client_version"] as? String == "2.3000.1050000000")

            for bad in [#"{"version":"3"}"#, #"{"version":"2.3000.x"}"#, #"{"version":" 2.3000.1"}"#] {
                let refused = try await h.request(.PUT, "/admin/client-version", host: nil, token: APIHarness.adminToken, json: bad)
                #expect(refused.status == 422, "\(bad)")
                #expect(refused.json["code"] as? String == "validation_failed")
            }
            let anonymous = try await h.request(.PUT, "/admin/client-version", host: nil, json: #"{"version":"2.3000.1"}"#)
            #expect(anonymous.status == 401)
        }
    }

    @Test func aCheckStoresANewerVersionFoundAtTheSource() async throws {
        try await VersionServer.with(.revision(1_050_000_001)) { server in
            try await APIHarness.run(configureGateway: { $0.clientVersion = .init(source: server.source()) }) { h in
                try await eventually("the newer version in use") { h.node.supervisor.clientVersion == "2.3000.1050000001" }
                let stored = try #require(try await SettingsStore(pool: h.pool).clientVersion())
                #expect(stored.version == "2.3000.1050000001")
                #expect(stored.source == .check)
                // An older version at the source (a stale mirror) never moves the fleet back.
                server.reply.withLock { $0 = .revision(1_040_000_000) }
                await h.node.gateway.clientVersions.check()
                #expect(try await SettingsStore(pool: h.pool).clientVersion()?.version == "2.3000.1050000001")
                #expect(h.node.supervisor.clientVersion == "2.3000.1050000001")
            }
        }
    }

    @Test func anUnreachableSourceKeepsTheVersionInUse() async throws {
        try await VersionServer.with(.hang) { server in
            try await APIHarness.run(configureGateway: { $0.clientVersion = .init(source: server.source(timeout: .seconds(1))) }) { h in
                // The check at start gives up at its timeout.
                let clock = ContinuousClock()
                let started = clock.now
                try await eventually("the check gave up", pause: .milliseconds(100)) {
                    let shown = try await h.request(.GET, "/admin/client-version", host: nil, token: APIHarness.adminToken)
                    return (shown.json["last_check"] as? [String: Any])?["result"] as? String == "failed"
                }
                #expect(clock.now - started < .seconds(5))
                #expect(h.node.supervisor.clientVersion == Self.pinned)
                let metrics = try await h.request(.GET, "/metrics", host: nil).body
                #expect(metrics.contains(#"pairgate_client_version_checks_total{result="failed"}"#))
                #expect(metrics.contains("pairgate_client_version_revision 1045649367.0"))
            }
        }
    }

    @Test func a405LooksForANewerVersionAtOnceAndTheDeviceResumesWithIt() async throws {
        try await VersionServer.with(.status(500)) { server in
            try await APIHarness.run(configureGateway: {
                $0.clientVersion = .init(source: server.source())
                $0.clientVersion.outdatedCheckSpacing = .zero
            }) { h in
                var sessions = h.node.upstream.sessions.makeAsyncIterator()
                let ticket = try await h.node.supervisor.startPairing(tenantID: h.acme.id, method: .qr)
                let pairing = try #require(await sessions.next())
                _ = await pairing.pairSuccess(jid: "15551239901:2@s.whatsapp.net")
                pairing.emit(.disconnected(DisconnectReason(stage: .stream, category: .restartRequired, code: 515, detail: "restart")))
                let login = try #require(await sessions.next())
                #expect(login.webVersion == Self.pinned)
                // The check at start failed (HTTP 500): the pinned version stays in use.
                try await eventually("the check at start failed") { h.node.gateway.clientVersions.lastCheck?.result == .failed }
                #expect(h.node.supervisor.clientVersion == Self.pinned)
                server.reply.withLock { $0 = .revision(1_050_000_002) }
                login.emit(.disconnected(DisconnectReason(stage: .login, category: .clientOutdated, code: 405, detail: "outdated")))
                try await eventually("the newer version in use") { h.node.supervisor.clientVersion == "2.3000.1050000002" }
                let resumed = try #require(await sessions.next())
                #expect(resumed.webVersion == "2.3000.1050000002")
                #expect(resumed.intent == .login)
                resumed.emit(.online(OnlineInfo(jid: "15551239901:2@s.whatsapp.net", lid: nil, serverTimeOffset: .zero)))
                try await eventually("online") { try await h.store.device(ticket.deviceID)?.state == .online }
            }
        }
    }
}

/// A stand-in for web.whatsapp.com's service worker on 127.0.0.1: it serves a script with a
/// `client_revision`, an HTTP error, or nothing at all (it never answers).
final class VersionServer: Sendable {
    enum Reply: Sendable {
        case revision(UInt64)
        case status(Int)
        case hang
    }

    let reply: Mutex<Reply>
    private let port = Mutex(0)

    private init(_ reply: Reply) {
        self.reply = Mutex(reply)
    }

    func source(timeout: Duration = .seconds(5)) -> WebVersionSource {
        WebVersionSource(url: URL(string: "http://127.0.0.1:\(port.withLock { $0 })/sw.js")!, timeout: timeout)
    }

    private func respond() async throws -> Response {
        switch reply.withLock({ $0 }) {
        case .revision(let revision):
            let script = #"self.__swData=JSON.parse("{\"dynamic_data\":{\"SiteData\":{\"client_revision\":\#(revision)}}}");"#
            return Response(status: .ok, headers: [.contentType: "text/javascript"], body: .init(byteBuffer: ByteBuffer(string: script)))
        case .status(let code):
            return Response(status: .init(code: code))
        case .hang:
            try await Task.sleep(for: .seconds(60))
            return Response(status: .ok)
        }
    }

    static func with(_ initial: Reply, _ body: (VersionServer) async throws -> Void) async throws {
        let server = VersionServer(initial)
        let router = Router()
        router.get("/sw.js") { _, _ in try await server.respond() }
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { sink.yield($0.localAddress?.port ?? 0) }
        )
        let services = ServiceGroup(configuration: .init(services: [application], logger: TestDatabase.logger))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            server.port.withLock { $0 = port }
            do {
                try await body(server)
            } catch {
                await services.triggerGracefulShutdown()
                group.cancelAll()
                throw error
            }
            await services.triggerGracefulShutdown()
            group.cancelAll()
        }
    }
}
