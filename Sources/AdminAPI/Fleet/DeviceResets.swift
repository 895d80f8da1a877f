import DevicePool
import Foundation
import Logging

/// What became of one device's reset, wherever it ran; the fleet bus carries it back from the
/// device's owner.
enum ResetOutcome: Codable, Sendable, Hashable {
    /// The reset was applied; the device is in this state now.
    case applied(DeviceState.Kind)
    /// Nothing to do (resets are idempotent).
    case unchanged(DeviceState.Kind)
    /// Another live instance runs the device (`owner`, when known).
    case elsewhere(owner: String?)
    case failed(Failure)

    enum Failure: String, Codable, Sendable {
        case unknownDevice = "unknown_device"
        case shuttingDown = "shutting_down"
        /// The owner did not answer in time.
        case ownerUnreachable = "owner_unreachable"
        case `internal`
    }
}

/// Resets devices wherever they run: here through the pool, or on their owner, asked over the
/// fleet bus.
struct DeviceResets: Sendable {
    let supervisor: Supervisor
    let fleet: FleetBus
    /// How long a reset routed to another instance waits for its answer.
    let forwardTimeout: Duration
    let logger: Logger

    func reset(_ deviceID: UUID, mode: ResetMode) async -> ResetOutcome {
        let outcome = await Self.here(deviceID, mode: mode, supervisor: supervisor, logger: logger)
        guard case .elsewhere(let owner) = outcome else { return outcome }
        guard let owner else { return .failed(.ownerUnreachable) }
        return await fleet.forwardReset(deviceID: deviceID, mode: mode, owner: owner, timeout: forwardTimeout)
            ?? .failed(.ownerUnreachable)
    }

    /// A reset by this instance's pool, which may find that another instance runs the device.
    static func here(_ deviceID: UUID, mode: ResetMode, supervisor: Supervisor, logger: Logger) async -> ResetOutcome {
        do {
            return switch try await supervisor.reset(deviceID: deviceID, mode: mode) {
            case .applied(let state): .applied(state.kind)
            case .unchanged(let state): .unchanged(state.kind)
            }
        } catch let error as SupervisorError {
            switch error.code {
            case .notHere: return .elsewhere(owner: error.owner)
            case .unknownDevice: return .failed(.unknownDevice)
            case .shuttingDown: return .failed(.shuttingDown)
            default: return .failed(.internal)
            }
        } catch {
            logger.error("reset failed", metadata: ["device": "\(deviceID.uuidString.lowercased())", "error": "\(error)"])
            return .failed(.internal)
        }
    }
}
