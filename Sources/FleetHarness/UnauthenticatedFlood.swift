import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import WAWire

/// Requests nobody authenticated, as fast as `concurrency` callers can send them, at gateways:
/// a random Host, a tenant's Host with a random bearer token, /metrics and /readyz, in turn.
/// Each costs the gateway a lookup or a read if it does not bound them (docs/operations.md,
/// "Floods"). Its own HTTP client, so the flood does not queue behind the harness's requests.
public struct UnauthenticatedFlood: Sendable {
    /// What was sent and how it was answered.
    public struct Figures: Sendable, Hashable, Codable {
        public var requests = 0
        public var seconds = 0.0
        /// By HTTP status; "000" is no answer within the client's timeout.
        public var byStatus: [String: Int] = [:]
    }

    public var targets: [String]
    /// Hosts of real tenants, for requests with a known Host and a random token.
    public var knownHosts: [String]
    public var concurrency = 32

    public init(targets: [String], knownHosts: [String]) {
        self.targets = targets
        self.knownHosts = knownHosts
    }

    public func run(for duration: Duration) async -> Figures {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = concurrency
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(10))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = started + duration
        let byStatus = await withTaskGroup(of: [String: Int].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var counts: [String: Int] = [:]
                    var turn = worker
                    while clock.now < deadline {
                        counts[await send(turn: turn, worker: worker, client: client), default: 0] += 1
                        turn += 1
                    }
                    return counts
                }
            }
            return await group.reduce(into: [:]) { total, counts in total.merge(counts, uniquingKeysWith: +) }
        }
        try? await client.shutdown()
        return Figures(requests: byStatus.values.reduce(0, +), seconds: (clock.now - started).seconds, byStatus: byStatus)
    }

    private func send(turn: Int, worker: Int, client: HTTPClient) async -> String {
        let target = targets[worker % max(targets.count, 1)]
        var request: HTTPClientRequest
        switch turn % 4 {
        case 0:
            request = HTTPClientRequest(url: target + "/status")
            request.headers.replaceOrAdd(name: "Host", value: "x\(UInt64.random(in: 0...UInt64.max)).flood.invalid")
            request.headers.add(name: "Authorization", value: "Bearer pgt_\(UUID().uuidString)")
        case 1:
            request = HTTPClientRequest(url: target + "/status")
            request.headers.replaceOrAdd(name: "Host", value: knownHosts.randomElement() ?? "flood.invalid")
            request.headers.add(name: "Authorization", value: "Bearer pgt_\(UUID().uuidString)")
        case 2:
            request = HTTPClientRequest(url: target + "/metrics")
        default:
            request = HTTPClientRequest(url: target + "/readyz")
        }
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 16 << 20)
            return String(response.status.code)
        } catch {
            return "000"
        }
    }
}
