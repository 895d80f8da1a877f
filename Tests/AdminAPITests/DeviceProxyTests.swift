import AdminAPI
import AsyncHTTPClient
import DevicePool
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PairgateTestSupport
import PostgresStore
import Testing
import WAClient
import WASim
import WAWire

/// Per-device proxies end to end: the real client, the simulated WhatsApp and real HTTP CONNECT
/// and SOCKS5 proxies on loopback. The simulator records where each login came from; a proxy
/// records the source port of each tunnel it opened — so each connection's proxy shows.
@Suite("Each device through its own proxy, seen at the simulator", .requiresDatabase)
struct DeviceProxyTests {

    @Test func eachDeviceReachesTheSimulatorThroughItsOwnProxyOrDirectly() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let http = TestProxy(kind: .httpConnect, username: "alice", password: "open sesame", group: group)
        let socks = TestProxy(kind: .socks5, username: "bob", password: "s3cret", group: group)
        try await http.start()
        try await socks.start()
        do {
            try await APIHarness.withSimulator { h, simulator, endpoints in
                let throughHTTP = try await pair(h, control: endpoints.controlURL)
                let throughSOCKS = try await pair(h, control: endpoints.controlURL)
                let direct = try await pair(h, control: endpoints.controlURL)
                #expect(try await h.patch(throughHTTP, #"{"proxy":"\#(http.url(password: "open%20sesame"))"}"#).status == 200)
                #expect(try await h.patch(throughSOCKS, #"{"proxy":"\#(socks.url())"}"#).status == 200)

                // Each device's next connection: a soft reset of all of them.
                let reset = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"all":true,"mode":"soft"}"#)
                #expect(reset.status == 200)
                var jids: [UUID: String] = [:]
                for id in [throughHTTP, throughSOCKS, direct] {
                    let jid = try #require(try await h.store.device(id)?.jid)
                    jids[id] = jid
                    try await eventually("\(jid) logged in again", pause: .milliseconds(20)) {
                        let online = try await h.store.device(id)?.state == .online
                        return online && simulator.stats.logins(of: jid) >= 2
                    }
                }
                func port(_ id: UUID) throws -> Int {
                    let peer = try #require(jids[id].flatMap { simulator.stats.lastLoginPeer(of: $0) })
                    return try #require(peer.split(separator: ":").last.flatMap { Int($0) })
                }
                let viaHTTP = Set(http.counts.tunnelSourcePorts)
                let viaSOCKS = Set(socks.counts.tunnelSourcePorts)
                let (fromHTTP, fromSOCKS, fromDirect) = (try port(throughHTTP), try port(throughSOCKS), try port(direct))
                #expect(viaHTTP.contains(fromHTTP), "\(viaHTTP)")
                #expect(viaSOCKS.contains(fromSOCKS), "\(viaSOCKS)")
                #expect(!viaHTTP.contains(fromDirect) && !viaSOCKS.contains(fromDirect))
                #expect(!viaHTTP.contains(fromSOCKS) && !viaSOCKS.contains(fromHTTP))
                let simulatorAddress = String(endpoints.webSocketURL.dropFirst("ws://".count).prefix { $0 != "/" })
                #expect(Set(http.counts.targets + socks.counts.targets) == [simulatorAddress])
                #expect(http.counts.refusedCredentials == 0 && socks.counts.refusedCredentials == 0)

                // A proxy that refuses the device is a proxy-stage failure, shown on the device.
                #expect(try await h.patch(direct, #"{"proxy":"\#(http.url(password: "wrong"))"}"#).status == 200)
                _ = try await h.request(.POST, "/reset", host: h.acme.host, token: h.acme.token, json: #"{"device_id":"\#(direct.lowercase)","mode":"soft"}"#)
                try await eventually("the refusal is recorded", pause: .milliseconds(20)) {
                    try await h.store.device(direct)?.state.kind == .backoff
                }
                let shown = try await h.request(.GET, "/devices/\(direct.lowercase)", host: h.acme.host, token: h.acme.token)
                let last = try #require(shown.json["last_disconnect"] as? [String: any Sendable])
                #expect(last["stage"] as? String == "proxy")
                #expect(last["code"] as? Int == 407)
                #expect(last["decision"] as? String == "backoff")
                #expect(http.counts.refusedCredentials == 1)
                #expect(!shown.body.contains("wrong") && !shown.body.contains("alice"))
            }
        } catch {
            await http.stop()
            await socks.stop()
            throw error
        }
        await http.stop()
        await socks.stop()
    }

    /// Pairs a device for acme through the API, the simulated phone scanning its QR; returns it online.
    private func pair(_ h: APIHarness, control: String) async throws -> UUID {
        let reply = try await h.request(.POST, "/pair", host: h.acme.host, token: h.acme.token, json: #"{"method":"qr"}"#)
        #expect(reply.status == 201, "\(reply.body)")
        let qr = try #require(reply.json["qr"] as? String)
        let id = try #require((reply.json["device_id"] as? String).flatMap(UUID.init(uuidString:)))
        var request = HTTPClientRequest(url: control + "/phone/scan")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(["qr": qr])))
        #expect(try await HTTPClient.shared.execute(request, timeout: .seconds(60)).status == .ok)
        try await eventually("paired and online", pause: .milliseconds(20)) {
            let open = try await h.store.openPairing(tenantID: h.acme.id)
            return try await h.store.device(id)?.state == .online && open == nil
        }
        return id
    }
}
