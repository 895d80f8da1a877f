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

/// Resets and stops devices wherever they run: here through the pool, or on their owner, asked
/// over the fleet bus.
struct DeviceResets: Sendable {
    let supervisor: Supervisor
    let fleet: FleetBus
    /// How long a reset routed to another instance waits for its answer.
    let forwardTimeout: Duration
    let logger: Logger

    func reset(_ deviceID: UUID, mode: ResetMode) async -> ResetOutcome {
        await run(DeviceCommand(mode), deviceID)
    }

    /// Closes a device whose desired state was just set to stopped, on whichever instance runs it.
    func stop(_ deviceID: UUID) async -> ResetOutcome {
        await run(.stop, deviceID)
    }

    private func run(_ command: DeviceCommand, _ deviceID: UUID) async -> ResetOutcome {
        let outcome = await Self.here(deviceID, command: command, supervisor: supervisor, logger: logger)
        guard case .elsewhere(let owner) = outcome else { return outcome }
        guard let owner else { return .failed(.ownerUnreachable) }
        return await fleet.forward(command, deviceID: deviceID, owner: owner, timeout: forwardTimeout)
            ?? .failed(.ownerUnreachable)
    }

    /// A command run by this instance's pool, which may find that another instance runs the device.
    static func here(_ deviceID: UUID, command: DeviceCommand, supervisor: Supervisor, logger: Logger) async -> ResetOutcome {
        do {
            let result = switch command {
            case .soft: try await supervisor.reset(deviceID: deviceID, mode: .soft)
            case .logout: try await supervisor.reset(deviceID: deviceID, mode: .logout)
            case .stop: try await supervisor.stopDevice(deviceID)
            }
            return switch result {
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
            logger.error("\(command.rawValue) failed", metadata: ["device": "\(deviceID.uuidString.lowercased())", "error": "\(error)"])
            return .failed(.internal)
        }
    }
}
