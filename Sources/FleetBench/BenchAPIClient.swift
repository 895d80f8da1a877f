import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The gateway's HTTP API as the benchmarks use it: tenants, pairings and their event streams.
public struct BenchAPIClient: Sendable {
    public let baseURL: String
    public let adminToken: String
    let client: HTTPClient

    public init(baseURL: String, adminToken: String) {
        self.baseURL = baseURL
        self.adminToken = adminToken
        var configuration = HTTPClient.Configuration()
        // Every pairing holds an event stream open: allow many connections per host.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 1024
        configuration.connectionPool.idleTimeout = .seconds(120)
        client = HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: configuration)
    }

    public func shutdown() async throws {
        try await client.shutdown()
    }

    /// A tenant of the benchmark: its host and token.
    public struct Tenant: Sendable {
        public var id: String
        public var host: String
        public var token: String
    }

    public struct Reply: Sendable {
        public var status: Int
        public var body: ByteBuffer
        public var json: [String: any Sendable] {
            (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: any Sendable] ?? [:]
        }
    }

    public func request(_ method: HTTPMethod, _ path: String, host: String, token: String, json: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Host", value: host)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await client.execute(request, timeout: .seconds(60))
        return Reply(status: Int(response.status.code), body: try await response.body.collect(upTo: 16 << 20))
    }

    /// Creates a tenant through the admin API.
    public func createTenant(name: String, host: String) async throws -> Tenant {
        let reply = try await request(.POST, "/admin/tenants", host: "admin.invalid", token: adminToken,
                                      json: #"{"name":"\#(name)","hosts":["\#(host)"]}"#)
        let json = reply.json
        guard reply.status == 201, let tenant = json["tenant"] as? [String: any Sendable], let id = tenant["id"] as? String,
              let token = json["token"] as? String
        else { throw BenchError("creating tenant \(name) answered \(reply.status): \(String(buffer: reply.body))") }
        return Tenant(id: id, host: host, token: token)
    }

    /// Opens an event stream; `next()` gives its events as they arrive.
    public func events(_ path: String, tenant: Tenant) async throws -> EventStream {
        var request = HTTPClientRequest(url: baseURL + path)
        request.headers.add(name: "Host", value: tenant.host)
        request.headers.add(name: "Authorization", value: "Bearer \(tenant.token)")
        let response = try await client.execute(request, timeout: .seconds(300))
        guard response.status == .ok else { throw BenchError("GET \(path) answered \(response.status.code)") }
        return EventStream(body: response.body)
    }

    /// Pairs one device of `tenant` by QR through the API and `scan` (the simulated phone);
    /// retries while the tenant's previous pairing is still ending. Returns the device id.
    public func pairDevice(_ tenant: Tenant, scan: @Sendable (String) async throws -> Void) async throws -> String {
        while true {
            let reply = try await request(.POST, "/pair", host: tenant.host, token: tenant.token, json: #"{"method":"qr"}"#)
            if reply.status == 409 || reply.status == 429 {
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            let json = reply.json
            guard reply.status == 201, let deviceID = json["device_id"] as? String else {
                throw BenchError("POST /pair answered \(reply.status): \(String(buffer: reply.body))")
            }
            let qr: String
            if let shown = json["qr"] as? String {
                qr = shown
            } else {
                guard let url = json["events_url"] as? String else { throw BenchError("POST /pair gave no events_url") }
                let stream = try await events(url, tenant: tenant)
                guard let event = try await stream.next(named: "qr"), let shown = event.json["qr"] as? String else {
                    throw BenchError("pairing \(deviceID) ended without a QR")
                }
                qr = shown
            }
            try await scan(qr)
            return deviceID
        }
    }
}

/// Server-Sent Events as they arrive.
public final class EventStream: @unchecked Sendable {
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private var pending = ""

    init(body: HTTPClientResponse.Body) {
        iterator = body.makeAsyncIterator()
    }

    public struct Event: Sendable {
        public var name: String
        public var data: String
        public var json: [String: any Sendable] {
            (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: any Sendable] ?? [:]
        }
    }

    /// The next event (comments skipped), nil when the stream ends.
    public func next() async throws -> Event? {
        while true {
            if let range = pending.range(of: "\n\n") {
                let block = String(pending[..<range.lowerBound])
                pending.removeSubrange(..<range.upperBound)
                if block.hasPrefix(":") { continue }
                var name = "message"
                var data = ""
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
                }
                return Event(name: name, data: data)
            }
            guard let chunk = try await iterator.next() else { return nil }
            pending += String(buffer: chunk)
        }
    }

    /// The next event called `name`, skipping others; nil when the stream ends first.
    public func next(named name: String) async throws -> Event? {
        while let event = try await next() {
            if event.name == name { return event }
        }
        return nil
    }
}
