import DevicePool
import Foundation
import Hummingbird
import PostgresStore
import WAClient

private struct StatusView: Encodable {
    var tenantID: String
    /// The WhatsApp Web version this instance announces on new connections.
    var clientVersion: String
    var devices: [DeviceView]
    var activePairing: PairingView?
    /// Where the next page starts (`?cursor=`); absent on the last page.
    var nextCursor: String?
}

/// A device as a tenant sees it: never keys, never the full number.
struct DeviceView: Encodable {
    var id: String
    var name: String?
    var state: String
    var stateReason: String?
    var since: Date
    var number: String?
    var platform: String?
    var nextReconnectAt: Date?
    var lastDisconnect: DisconnectView?
}

struct DisconnectView: Encodable {
    var at: Date
    var stage: String
    var code: Int?
    var category: String
    var detail: String?
    var decision: String
    var backoffMs: Int64?

    init(_ record: DisconnectRecord) {
        at = record.at
        stage = record.stage
        code = record.code
        category = record.category
        detail = record.detail
        decision = record.decision
        backoffMs = record.backoffMilliseconds
    }
}

private struct HistoryView: Encodable {
    var deviceID: String
    var entries: [EntryView]
    var nextCursor: String?
}

private struct EntryView: Encodable {
    var kind: String
    var at: Date
    var instance: String
    var from: String?
    var to: String?
    var reason: String?
    var stage: String?
    var code: Int?
    var category: String?
    var detail: String?
    var decision: String?
    var backoffMs: Int64?
}

/// GET /status and GET /devices/{id}/history: what a tenant's devices are doing and did. Both
/// come in pages; /status's first page without parameters is the one a tenant's cache keeps.
struct StatusController: Sendable {
    /// Devices per /status page unless `limit` says otherwise, and at most.
    static let defaultPageSize = 500
    static let maximumPageSize = 1000

    let devices: PostgresDeviceStore
    let pairings: PairingWatchers
    let statusCache: StatusCache
    let clientVersion: @Sendable () -> String

    func addRoutes(to router: some RouterMethods<APIContext>) {
        router.get("/status", use: status)
        router.get("/devices/{id}/history", use: history)
    }

    @Sendable func status(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        var limit = Self.defaultPageSize
        if let text = request.query("limit") {
            guard let value = Int(text), (1...Self.maximumPageSize).contains(value) else {
                throw APIError.invalid("limit must be 1 to \(Self.maximumPageSize)")
            }
            limit = value
        }
        var cursor: DeviceCursor?
        if let text = request.query("cursor") {
            guard let parsed = DeviceCursor(token: text) else { throw APIError(.badRequest, .invalidCursor, "The cursor is malformed") }
            cursor = parsed
        }
        // Only the plain request is cached: it is what dashboards poll.
        let cacheable = request.uri.query == nil
        if cacheable, let body = statusCache.body(tenantID: access.tenantID) {
            return APIJSON.response(.ok, encoded: body)
        }
        async let page = devices.devicePage(tenantID: access.tenantID, after: cursor, limit: limit)
        async let open = devices.openPairing(tenantID: access.tenantID)
        let records = try await page
        let last = try await devices.lastDisconnects(deviceIDs: records.devices.map(\.id))
        let views = records.devices.map { record in
            DeviceView(
                id: record.id.api, name: record.name, state: record.state.kind.rawValue, stateReason: record.state.reason,
                since: record.stateSince, number: MaskedNumber.from(jid: record.jid), platform: record.platform,
                nextReconnectAt: record.state.nextAttemptAt, lastDisconnect: last[record.id].map(DisconnectView.init)
            )
        }
        var active: PairingView?
        if let pairing = try await open {
            active = PairingView(pairingID: pairing.id, deviceID: pairing.deviceID, method: pairing.method,
                                 deadline: pairing.deadline, latest: pairings.showing(pairing.id), outcome: nil)
        }
        let view = StatusView(
            tenantID: access.tenantID.api, clientVersion: clientVersion(), devices: views, activePairing: active, nextCursor: records.next?.token
        )
        let body = ByteBuffer(bytes: try APIJSON.encoder.encode(view))
        if cacheable { statusCache.store(body, tenantID: access.tenantID) }
        return APIJSON.response(.ok, encoded: body)
    }

    @Sendable func history(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let device = try await tenantDevice(context, access)
        var limit = 50
        if let text = request.query("limit") {
            guard let value = Int(text), (1...200).contains(value) else { throw APIError.invalid("limit must be 1 to 200") }
            limit = value
        }
        var cursor: HistoryCursor?
        if let text = request.query("cursor") {
            guard let parsed = HistoryCursor(token: text) else {
                throw APIError(.badRequest, .invalidCursor, "The cursor is malformed")
            }
            cursor = parsed
        }
        let entries = try await devices.history(deviceID: device.id, after: cursor, limit: limit + 1)
        let page = entries.prefix(limit)
        let next = entries.count > limit ? page.last.map { HistoryCursor(at: $0.at, kind: $0.kind, id: $0.id).token } : nil
        let views = page.map { entry in
            EntryView(
                kind: entry.kind.rawValue, at: entry.at, instance: entry.instance, from: entry.from, to: entry.to,
                reason: entry.reason, stage: entry.disconnect?.stage, code: entry.disconnect?.code,
                category: entry.disconnect?.category, detail: entry.disconnect?.detail,
                decision: entry.disconnect?.decision, backoffMs: entry.disconnect?.backoffMilliseconds
            )
        }
        return try APIJSON.response(.ok, HistoryView(deviceID: device.id.api, entries: views, nextCursor: next))
    }

    /// The `{id}` device, if it is the tenant's; another tenant's device is as absent as a missing one.
    private func tenantDevice(_ context: APIContext, _ access: TenantAccess) async throws -> DeviceRecord {
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
              let record = try await devices.device(id), record.tenantID == access.tenantID
        else {
            throw APIError.notFound(.deviceNotFound, "No such device")
        }
        return record
    }
}

extension DeviceCursor {
    /// `<microseconds since 1970>-<device id>` of the last device of a page.
    var token: String {
        "\(Int64((createdAt.timeIntervalSince1970 * 1_000_000).rounded()))-\(id.api)"
    }

    init?(token: String) {
        guard let dash = token.firstIndex(of: "-") else { return nil }
        let micros = token[..<dash]
        guard micros.count <= 18, micros.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(micros), value >= 0,
              let id = UUID(uuidString: String(token[token.index(after: dash)...]))
        else { return nil }
        self.init(createdAt: Date(timeIntervalSince1970: Double(value) / 1_000_000), id: id)
    }
}

extension HistoryCursor {
    /// `<microseconds>-<t|d>-<row id>` of the last entry returned: any well-formed cursor is a
    /// valid position, so clients may also build one from an entry's time.
    var token: String {
        let micros = Int64((at.timeIntervalSince1970 * 1_000_000).rounded())
        return "\(micros)-\(kind == .transition ? "t" : "d")-\(id)"
    }

    init?(token: String) {
        let parts = token.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count <= 18, parts[2].count <= 18,
              parts[0].allSatisfy(\.isASCII), parts[2].allSatisfy(\.isASCII),
              let micros = Int64(parts[0]), micros >= 0, let id = Int64(parts[2]), id >= 0
        else { return nil }
        switch parts[1] {
        case "t": self.init(at: Date(timeIntervalSince1970: Double(micros) / 1_000_000), kind: .transition, id: id)
        case "d": self.init(at: Date(timeIntervalSince1970: Double(micros) / 1_000_000), kind: .disconnect, id: id)
        default: return nil
        }
    }
}
