import DevicePool
import Foundation
import Hummingbird
import Logging
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

struct ResetView: Encodable, Sendable {
    var deviceID: String
    /// `applied`, `unchanged` (resets are idempotent) or `failed`.
    var result: String
    var state: String?
    var error: String?
}

private struct ResetsView: Encodable {
    var mode: ResetMode
    var results: [ResetView]
}

extension GatewayAPI {
    func addResetRoute<R>(_ routes: Routes<R>) {
        routes.post("/reset") { request, context in
            let access = try context.requireTenant()
            let body = try await request.decodeJSON(ResetRequestBody.self)
            let mode = body.mode ?? .soft
            statusCache.invalidate(tenantID: access.tenantID)
            defer { statusCache.invalidate(tenantID: access.tenantID) }
            let targets: [UUID]
            switch (body.deviceID, body.all ?? false) {
            case (let id?, false):
                guard let record = try await devices.device(id), record.tenantID == access.tenantID else {
                    throw APIError.notFound("device_not_found", "No such device")
                }
                targets = [record.id]
            case (nil, true):
                targets = try await devices.devices(tenantID: access.tenantID).map(\.id)
            default:
                throw APIError.invalid("give either device_id or \"all\": true")
            }
            var results: [ResetView] = []
            for id in targets {
                results.append(await reset(id, mode: mode))
            }
            if body.deviceID != nil, let only = results.first, only.result == "failed" {
                throw resetProblem(only)
            }
            return try APIJSON.response(.ok, ResetsView(mode: mode, results: results))
        }
    }

    /// Resets one device wherever it runs: here, or routed to its owner over the fleet bus.
    func reset(_ deviceID: UUID, mode: ResetMode) async -> ResetView {
        do {
            switch try await supervisor.reset(deviceID: deviceID, mode: mode) {
            case .applied(let state): return ResetView(deviceID: deviceID.api, result: "applied", state: state.kind.rawValue)
            case .unchanged(let state): return ResetView(deviceID: deviceID.api, result: "unchanged", state: state.kind.rawValue)
            }
        } catch let error as SupervisorError where error.code == .notHere {
            guard let bus, let owner = error.owner else {
                return ResetView(deviceID: deviceID.api, result: "failed", error: "owner_unreachable")
            }
            switch await bus.forwardReset(deviceID: deviceID, mode: mode, owner: owner, timeout: configuration.forwardTimeout) {
            case .applied(let state)?: return ResetView(deviceID: deviceID.api, result: "applied", state: state)
            case .unchanged(let state)?: return ResetView(deviceID: deviceID.api, result: "unchanged", state: state)
            case .failed(let code)?: return ResetView(deviceID: deviceID.api, result: "failed", error: code)
            case nil: return ResetView(deviceID: deviceID.api, result: "failed", error: "owner_unreachable")
            }
        } catch let error as SupervisorError {
            return ResetView(deviceID: deviceID.api, result: "failed", error: error.code.rawValue)
        } catch {
            logger.error("reset failed", metadata: ["device": "\(deviceID.uuidString.lowercased())", "error": "\(error)"])
            return ResetView(deviceID: deviceID.api, result: "failed", error: "internal")
        }
    }

    func resetProblem(_ view: ResetView) -> APIError {
        switch view.error {
        case "unknown_device":
            APIError.notFound("device_not_found", "No such device")
        case "shutting_down":
            APIError(.serviceUnavailable, "shutting_down", "The gateway is shutting down", headers: [.retryAfter: "5"])
        default:
            APIError(.serviceUnavailable, "owner_unreachable", "The instance running this device did not answer",
                     detail: "try again; a device whose instance stopped is taken over within its lease time",
                     headers: [.retryAfter: "5"])
        }
    }
}
