import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A small client for one gateway's HTTP API (docs/api.md): the admin routes that create
/// tenants, and the tenant routes a fleet run drives (pair, status, reset, webhooks).
public struct GatewayClient: Sendable {
    /// A tenant created through the admin API: its id, the host that selects it, its token.
    public struct Tenant: Sendable, Hashable, Codable {
        public var id: String
        public var host: String
        public var token: String
    }

    /// An HTTP answer with its body as JSON (an empty object when it is not JSON).
    public struct Reply: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: String
        public var json: [String: any Sendable] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: any Sendable] ?? [:]
        }
    }

    /// What POST /pair answered.
    public struct Pairing: Sendable, Hashable {
        public var pairingID: String
        public var deviceID: String
        /// The QR string on show, when the first one came within `http.first_code_wait_ms`.
        public var qr: String?
    }

    /// One device as GET /status shows it.
    public struct Device: Sendable, Hashable {
        public var id: String
        public var state: String
        public var stateReason: String?
    }

    public let baseURL: String
    public let adminToken: String

    public init(baseURL: String, adminToken: String) {
        self.baseURL = baseURL
        self.adminToken = adminToken
    }

    public func request(
        _ method: HTTPMethod, _ path: String, host: String, token: String?, json: String? = nil, headers: [String: String] = [:],
        timeout: Duration = .seconds(30)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.replaceOrAdd(name: "Host", value: host)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .init(timeout))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    /// POST /admin/tenants with one host; the tenant and its first token.
    public func createTenant(name: String, host: String) async throws -> Tenant {
        let body = try jsonText(["name": name, "hosts": [host]])
        let reply = try await request(.POST, "/admin/tenants", host: "admin.invalid", token: adminToken, json: body)
        guard reply.status == 201, let tenant = reply.json["tenant"] as? [String: any Sendable],
              let id = tenant["id"] as? String, let token = reply.json["token"] as? String else {
            throw FleetHarnessError("POST /admin/tenants answered \(reply.status): \(reply.body)")
        }
        return Tenant(id: id, host: host, token: token)
    }

    /// POST /pair for a QR pairing. nil when the tenant is busy or rate limited (409, 429):
    /// try again later. Throws on any other failure.
    public func pairQR(_ tenant: Tenant, name: String? = nil) async throws -> Pairing? {
        var fields: [String: any Sendable] = ["method": "qr"]
        if let name { fields["name"] = name }
        let reply = try await request(.POST, "/pair", host: tenant.host, token: tenant.token, json: try jsonText(fields))
        if reply.status == 409 || reply.status == 429 { return nil }
        let json = reply.json
        guard reply.status == 201, let pairing = json["pairing_id"] as? String, let device = json["device_id"] as? String else {
            throw FleetHarnessError("POST /pair answered \(reply.status): \(reply.body)")
        }
        return Pairing(pairingID: pairing, deviceID: device, qr: json["qr"] as? String)
    }

    /// GET /status: the tenant's devices and their states.
    public func devices(_ tenant: Tenant) async throws -> [Device] {
        let reply = try await request(.GET, "/status", host: tenant.host, token: tenant.token)
        guard reply.status == 200, let devices = reply.json["devices"] as? [[String: any Sendable]] else {
            throw FleetHarnessError("GET /status answered \(reply.status): \(reply.body)")
        }
        return devices.compactMap { device in
            guard let id = device["id"] as? String, let state = device["state"] as? String else { return nil }
            return Device(id: id, state: state, stateReason: device["state_reason"] as? String)
        }
    }

    /// POST /reset for one device (`soft` or `logout`); the result word (`applied`, `unchanged`, `failed`).
    @discardableResult
    public func reset(_ tenant: Tenant, deviceID: String, mode: String) async throws -> String {
        let reply = try await request(.POST, "/reset", host: tenant.host, token: tenant.token,
                                      json: try jsonText(["device_id": deviceID, "mode": mode]))
        guard reply.status == 200 else { throw FleetHarnessError("POST /reset answered \(reply.status): \(reply.body)") }
        let results = reply.json["results"] as? [[String: any Sendable]]
        return results?.first?["result"] as? String ?? reply.body
    }

    /// POST /messages: queues `text` from the device to `to` (`+<digits>` or a JID), with
    /// `idempotencyKey` as its `Idempotency-Key`; the answer as it came (202 or a problem).
    public func sendMessage(
        _ tenant: Tenant, deviceID: UUID, to: String, text: String, idempotencyKey: String? = nil, timeout: Duration = .seconds(30)
    ) async throws -> Reply {
        let body = try jsonText(["device_id": deviceID.uuidString.lowercased(), "to": to, "text": text])
        return try await request(
            .POST, "/messages", host: tenant.host, token: tenant.token, json: body,
            headers: idempotencyKey.map { ["Idempotency-Key": $0] } ?? [:], timeout: timeout
        )
    }

    /// POST /webhooks: registers `url` for `events`; the endpoint's id and its secret.
    public func createWebhook(_ tenant: Tenant, url: String, events: [String]) async throws -> (id: String, secret: String) {
        let reply = try await request(.POST, "/webhooks", host: tenant.host, token: tenant.token, json: try jsonText(["url": url, "events": events]))
        guard reply.status == 201, let id = reply.json["id"] as? String, let secret = reply.json["secret"] as? String else {
            throw FleetHarnessError("POST /webhooks answered \(reply.status): \(reply.body)")
        }
        return (id, secret)
    }

    private func jsonText(_ object: [String: any Sendable]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
