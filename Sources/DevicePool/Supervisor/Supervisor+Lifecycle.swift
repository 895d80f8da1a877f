import Foundation
import Logging
import Synchronization
import WAClient

/// Stopping and starting devices on the tenant's word. The desired state is written by the
/// caller (the API) before it asks the pool: it is what every instance obeys — the claim loop
/// passes stopped devices by, an actor that starts for one leaves at once, and every instance
/// looks for stopped devices it still holds each `claimInterval` — so a stop holds across
/// restarts and moves even when its owner never heard of it.
extension Supervisor {
    /// Closes a device that was just stopped, if this process runs it: the disconnect is
    /// recorded (`shutdown`, "stopped through the API"), the device goes to `paired` and its lease
    /// is released. Throws `notHere` naming the owner when another live instance holds it, so
    /// the caller can route the request there; `.unchanged` when nobody runs it.
    public func stopDevice(_ deviceID: UUID) async throws -> ResetResult {
        if let actor = state.withLock({ $0.running[deviceID]?.actor }), let result = await askToStop(actor) {
            return result
        }
        guard let record = try await context.store.device(deviceID) else { throw SupervisorError(.unknownDevice) }
        if let owner = record.leaseOwner, owner != context.configuration.instanceID,
           (record.leaseExpiresAt ?? .distantPast) > context.now() {
            throw SupervisorError(.notHere, owner: owner)
        }
        return .unchanged(record.state)
    }

    /// Starts a device that was just set running, here and now when its lease is free
    /// (`.applied`); `.unchanged` when it runs here already or has nothing to connect with
    /// (unpaired, logged out). Throws `notHere` when an instance still holds its lease — one
    /// that runs it, is still closing it, or died — and the claim loop takes it once that lease
    /// is free.
    public func startDevice(_ deviceID: UUID) async throws -> ResetResult {
        guard let record = try await context.store.device(deviceID) else { throw SupervisorError(.unknownDevice) }
        if record.desiredState == .stopped || !record.state.wantsConnection {
            return .unchanged(record.state)
        }
        // One lease acquisition per actor: an actor running or starting here is the answer.
        guard case .reserved = try takeSlot(deviceID) else { return .unchanged(record.state) }
        let sent = context.uptime()
        let acquired: (DeviceRecord, Lease)?
        do {
            acquired = try await context.store.acquireLease(
                deviceID: deviceID, owner: context.configuration.instanceID, ttl: context.configuration.leaseTTL
            )
        } catch {
            abandon(deviceID)
            throw error
        }
        guard let (owned, lease) = acquired else {
            abandon(deviceID)
            throw SupervisorError(.notHere, owner: record.leaseOwner)
        }
        let actor = DeviceConnection(record: owned, lease: lease, credentials: nil, pairing: nil, context: context)
        guard start(actor, confirmed: sent) else {
            try? await context.store.releaseLease(lease)
            throw SupervisorError(.shuttingDown)
        }
        return .applied(owned.state)
    }

    /// A stopped device has no connection and no actor. A soft reset would connect it, so it
    /// changes nothing (start the device instead); a logout wipes its credentials under a lease
    /// taken for the purpose, without unlinking upstream — there is no connection to ask on.
    func resetStopped(_ record: DeviceRecord, mode: ResetMode) async throws -> ResetResult {
        guard mode == .logout else { return .unchanged(record.state) }
        guard let (owned, lease) = try await context.store.acquireLease(
            deviceID: record.id, owner: context.configuration.instanceID, ttl: context.configuration.leaseTTL
        ) else {
            throw SupervisorError(.notHere, owner: record.leaseOwner)
        }
        var machine = DeviceStateMachine(state: owned.state, policy: context.configuration.policy, webVersion: context.configuration.webVersion)
        var random = SystemRandomNumberGenerator()
        do {
            for action in machine.handle(.reset(.logout), now: context.now(), random: &random).actionsToRun {
                switch action {
                case .persist(let transition):
                    try await context.store.recordTransition(lease, transition, instance: context.configuration.instanceID)
                case .wipeCredentials:
                    try await context.store.wipeCredentials(lease)
                default:
                    // No connection to log out or close, no timer to cancel, no pairing to end.
                    break
                }
            }
        } catch {
            try? await context.store.releaseLease(lease)
            throw error
        }
        try? await context.store.releaseLease(lease)
        return machine.state == owned.state ? .unchanged(owned.state) : .applied(machine.state)
    }

    /// The actor's answer, or nil when it ended first (it then never reads the request).
    private func askToStop(_ actor: DeviceConnection) async -> ResetResult? {
        await withCheckedContinuation { answer in
            if !actor.send(.stop(answer)) { answer.resume(returning: nil) }
        }
    }

    /// Each `claimInterval`, closes the stopped devices this process still runs: the stop's
    /// routed request may not have arrived (a listener reconnecting), or the device was stopped
    /// while this instance was taking its lease.
    func closeStoppedDevices() async {
        while !Task.isCancelled {
            do { try await context.clock.sleep(for: context.configuration.claimInterval) } catch { return }
            do {
                let stopped = try await context.store.stoppedDevices(owner: context.configuration.instanceID)
                let actors = state.withLock { state in stopped.compactMap { state.running[$0]?.actor } }
                for actor in actors {
                    context.logger.notice("closing a device that was stopped", metadata: ["device": "\(actor.deviceID.uuidString.lowercased())"])
                    actor.send(.stop(nil))
                }
            } catch is CancellationError {
                return
            } catch {
                context.logger.warning("looking for stopped devices failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension DeviceStateMachine.Outcome {
    /// The actions of an applied event; none for an update or a rejection.
    fileprivate var actionsToRun: [DeviceStateMachine.Action] {
        if case .applied(let actions) = self { return actions }
        return []
    }
}
