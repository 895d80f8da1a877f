import DevicePool
import Foundation
import Hummingbird
import PostgresStore

/// The body of POST /reset: one device or all of them.
struct ResetRequestBody: Decodable, Sendable {
    var deviceID: UUID?
    var all: Bool?
    var mode: ResetMode?

    enum CodingKeys: String, CodingKey {
        case deviceID = "device_id"
        case all, mode
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        deviceID = try container.optional(UUID.self, forKey: .deviceID)
        all = try container.optional(Bool.self, forKey: .all)
        mode = try container.optional(ResetMode.self, forKey: .mode)
    }
}

/// The body of POST /admin/devices/{id}/reset.
struct ModeBody: Decodable, Sendable {
    var mode: ResetMode?

    enum CodingKeys: String, CodingKey {
        case mode
    }

    init(from decoder: any Decoder) throws {
        mode = try decoder.container(keyedBy: CodingKeys.self).optional(ResetMode.self, forKey: .mode)
    }
}

/// One device's reset as the API reports it.
struct ResetView: Encodable, Sendable {
    var deviceID: String
    /// `applied`, `unchanged` (resets are idempotent) or `failed`.
    var result: String
    var state: String?
    var error: String?

    init(deviceID: UUID, _ outcome: ResetOutcome) {
        self.deviceID = deviceID.api
        switch outcome {
        case .applied(let state):
            result = "applied"
            self.state = state.rawValue
        case .unchanged(let state):
            result = "unchanged"
            self.state = state.rawValue
        case .elsewhere:
            result = "failed"
            error = "device_not_owned_here"
        case .failed(let failure):
            result = "failed"
            error = failure.rawValue
        }
    }

    /// The problem for a single device's failed reset; nil when it did not fail.
    static func problem(_ outcome: ResetOutcome) -> APIError? {
        switch outcome {
        case .applied, .unchanged:
            nil
        case .failed(.unknownDevice):
            APIError.notFound(.deviceNotFound, "No such device")
        case .failed(.shuttingDown):
            APIError.shuttingDown
        case .elsewhere, .failed(.ownerUnreachable), .failed(.internal):
            APIError(.serviceUnavailable, .ownerUnreachable, "The instance running this device did not answer",
                     detail: "try again; a device whose instance stopped is taken over within its lease time",
                     headers: [.retryAfter: "5"])
        }
    }
}

private struct ResetsView: Encodable {
    var mode: ResetMode
    var results: [ResetView]
}

/// POST /reset: resets one of the tenant's devices, or all of them, wherever they run: `all` runs
/// `concurrency` resets at a time (each may wait on a device's upstream or on another instance)
/// and answers one result per device, oldest device first.
struct ResetController: Sendable {
    let devices: PostgresDeviceStore
    let resets: DeviceResets
    let statusCache: StatusCache
    let concurrency: Int

    func addRoutes(to router: some RouterMethods<APIContext>) {
        router.post("/reset", use: reset)
    }

    @Sendable func reset(_ request: Request, context: APIContext) async throws -> Response {
        let access = try context.requireTenant()
        let body = try await request.decodeJSON(ResetRequestBody.self)
        let mode = body.mode ?? .soft
        statusCache.invalidate(tenantID: access.tenantID)
        defer { statusCache.invalidate(tenantID: access.tenantID) }
        let targets: [UUID]
        switch (body.deviceID, body.all ?? false) {
        case (let id?, false):
            guard let record = try await devices.device(id), record.tenantID == access.tenantID else {
                throw APIError.notFound(.deviceNotFound, "No such device")
            }
            targets = [record.id]
        case (nil, true):
            targets = try await devices.devices(tenantID: access.tenantID).map(\.id)
        default:
            throw APIError.invalid("give either device_id or \"all\": true")
        }
        let outcomes = await reset(targets, mode: mode)
        if body.deviceID != nil, let only = outcomes.first, let problem = ResetView.problem(only) {
            throw problem
        }
        return try APIJSON.response(.ok, ResetsView(mode: mode, results: zip(targets, outcomes).map { ResetView(deviceID: $0, $1) }))
    }

    /// The outcome of each target's reset, in the targets' order, at most `concurrency` at once.
    private func reset(_ targets: [UUID], mode: ResetMode) async -> [ResetOutcome] {
        let resets = self.resets
        return await withTaskGroup(of: (Int, ResetOutcome).self) { group in
            var outcomes = [ResetOutcome](repeating: .failed(.internal), count: targets.count)
            var next = targets.startIndex
            func startNext() {
                guard next < targets.endIndex else { return }
                let (index, id) = (next, targets[next])
                group.addTask { (index, await resets.reset(id, mode: mode)) }
                next += 1
            }
            for _ in 0..<max(1, concurrency) { startNext() }
            for await (index, outcome) in group {
                outcomes[index] = outcome
                startNext()
            }
            return outcomes
        }
    }
}
