import CoreMetrics
import Foundation
import Logging
import Synchronization

/// Scale-out that rebalances. Every `rebalanceInterval` the instance renews its heartbeat in
/// `instances`, reads the fleet's load and hands the devices it holds beyond its fair share
/// (capacity-weighted, `FleetLoad+FairShare`) to the peers below theirs, paced by
/// `HandoverBudget`. A handover is a shutdown of the device here (disconnect recorded, lease
/// released) followed by a message on the fleet bus naming its new owner, which claims it at
/// once instead of at its next claim poll. A drain (and SIGTERM) hands every device over.
extension Supervisor {
    /// Released devices to announce, by their new owner; emptied by the call.
    public func takeHandovers() -> [Handover] {
        state.withLock { state in
            defer { state.outgoing = [:] }
            return state.outgoing.sorted { $0.key < $1.key }.map { Handover(to: $0.key, devices: $0.value) }
        }
    }

    /// Returns once the first rebalancing round ended (the instance registered and read the
    /// fleet, or failed to): tests start from a pool whose start-up statements are done.
    public func firstRoundDone() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if !state.firstRoundDone { state.firstRoundWaiters.append(continuation) }
                return state.firstRoundDone
            }
            if done { continuation.resume() }
        }
    }

    /// Whether this instance drains (it then claims nothing and hands every device over).
    public var isDraining: Bool {
        state.withLock { $0.draining }
    }

    /// Hands every device to the peers, paced by nothing but the peers' ramp: the instance keeps
    /// running (HTTP, pairings) but claims no device from now on. Devices pairing here move once
    /// they are paired, at a later round. A restart ends the drain.
    public func drain() async {
        let already = state.withLock { state in
            defer { state.draining = true }
            return state.draining
        }
        guard !already else { return }
        context.logger.notice("draining: handing every device to the peers", metadata: ["devices": "\(ownedDevices.count)"])
        await planDrain(within: .seconds(5))
        await handOver(ownedDevices)
    }

    /// Claims devices a peer just released for this instance, at the ramp's pace. A device
    /// whose lease is not free (yet), that needs no connection, or that would exceed
    /// `maxDevices` is left to the claim polls.
    public func takeOver(_ devices: [UUID]) async {
        let configuration = context.configuration
        for deviceID in devices {
            let refused = state.withLock { state in
                state.shuttingDown || state.draining || state.running.count + state.starting.count >= configuration.maxDevices
            }
            if refused || Task.isCancelled {
                context.metrics.handoversMissed.increment()
                continue
            }
            do { try await context.clock.sleep(for: context.resumeRamp.delay(at: context.uptime())) } catch { return }
            do {
                guard case .reserved = try takeSlot(deviceID) else { continue }
                let sent = context.uptime()
                let acquired: (DeviceRecord, Lease)?
                do {
                    acquired = try await context.store.acquireLease(deviceID: deviceID, owner: configuration.instanceID, ttl: configuration.leaseTTL)
                } catch {
                    abandon(deviceID)
                    throw error
                }
                guard let (record, lease) = acquired else {
                    abandon(deviceID)
                    context.metrics.handoversMissed.increment()
                    continue
                }
                guard record.state.wantsConnection, record.desiredState == .running else {
                    // A device that stopped or logged out meanwhile: not ours to run.
                    try? await context.store.releaseLease(lease)
                    abandon(deviceID)
                    continue
                }
                let actor = DeviceConnection(record: record, lease: lease, credentials: nil, pairing: nil, context: context)
                guard start(actor, confirmed: sent) else {
                    try? await context.store.releaseLease(lease)
                    return
                }
                context.metrics.handoversIn.increment()
            } catch let error as SupervisorError where error.code == .shuttingDown {
                return
            } catch {
                context.metrics.handoversMissed.increment()
                context.logger.warning("could not claim a device handed over by a peer", metadata: ["device": "\(deviceID.uuidString.lowercased())", "error": "\(error)"])
            }
        }
    }

    /// Whether the claim loop may take `deviceID` here: not while draining, not past
    /// `maxDevices`, not a device handed away a moment ago (its new owner is claiming it).
    func mayClaim(_ deviceID: UUID) -> Bool {
        let now = context.uptime()
        let limit = context.configuration.maxDevices
        return state.withLock { state in
            if state.draining || state.running.count + state.starting.count >= limit { return false }
            guard let until = state.handedAway[deviceID] else { return true }
            if until > now { return false }
            state.handedAway[deviceID] = nil
            return true
        }
    }

    /// Closes `devices` here to hand them over (those running, not closing already, and not
    /// pairing); returns how many accepted. Each is announced to a peer once its lease is released.
    @discardableResult
    func handOver(_ devices: [UUID]) async -> Int {
        let actors = state.withLock { state in
            devices.compactMap { deviceID -> DeviceConnection? in
                guard let running = state.running[deviceID], !running.expired, !state.handingOver.contains(deviceID) else { return nil }
                state.handingOver.insert(deviceID)
                return running.actor
            }
        }
        return await withTaskGroup(of: Bool.self) { group in
            for actor in actors {
                group.addTask {
                    let yes = await withCheckedContinuation { answer in
                        if !actor.send(.handOver(answer)) { answer.resume(returning: false) }
                    }
                    if !yes { _ = self.state.withLock { $0.handingOver.remove(actor.deviceID) } }
                    return yes
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
    }

    /// Marks this instance draining in the registry and plans where every device it holds goes
    /// (all live peers, by room first, then by capacity); gives up after `limit`, leaving the
    /// devices to the peers' claim polls.
    func planDrain(within limit: Duration) async {
        let (configuration, clock) = (context.configuration, context.clock)
        let owned = state.withLock { state in
            state.draining = true
            return state.running.count
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await self.context.store.heartbeat(instance: configuration.instanceID, capacity: configuration.maxDevices, draining: true)
                    let fleet = try await self.context.store.fleetLoad(liveness: configuration.instanceLiveness)
                    let plan = fleet.destinations(for: owned, from: configuration.instanceID, fill: true)
                    self.state.withLock { $0.destinations = plan }
                    if plan.isEmpty {
                        self.context.logger.notice("no live peer to hand the devices to; they are released for any instance to claim")
                    }
                } catch {
                    self.context.logger.warning("could not read the fleet to plan a drain; peers claim the devices at their next poll",
                                                metadata: ["error": "\(error)"])
                }
            }
            group.addTask { try? await clock.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Each `rebalanceInterval`: heartbeat, read the fleet, hand the excess over within the
    /// budget (or, draining, whatever is left here — devices that were pairing at the drain).
    func rebalance() async {
        let configuration = context.configuration
        let me = configuration.instanceID
        var budget = HandoverBudget(perMinute: configuration.handoversPerMinute, maxFraction: configuration.handoverMaxFraction)
        while !Task.isCancelled {
            do {
                let draining = state.withLock { $0.draining }
                if state.withLock({ $0.shuttingDown }) { return }
                try await context.store.heartbeat(instance: me, capacity: configuration.maxDevices, draining: draining)
                let fleet = try await context.store.fleetLoad(liveness: configuration.instanceLiveness)
                context.metrics.fairShare.record(fleet.share(of: me))
                if draining {
                    let left = state.withLock { state in state.running.keys.filter { !state.handingOver.contains($0) } }
                    if !left.isEmpty {
                        let plan = fleet.destinations(for: left.count, from: me, fill: true)
                        state.withLock { $0.destinations = plan }
                        await handOver(left)
                    }
                } else if configuration.handoversPerMinute > 0 {
                    let (owned, closing, candidates) = state.withLock { state in
                        (state.running.count, state.handingOver.count,
                         state.running.filter { !$0.value.expired && !state.handingOver.contains($0.key) }.map(\.key))
                    }
                    let room = fleet.deficits(excluding: me).reduce(0) { $0 + $1.room }
                    let wanted = min(fleet.excess(of: me) - closing, room, candidates.count)
                    if wanted > 0 {
                        let granted = budget.take(wanted, owned: owned, closing: closing, at: context.uptime())
                        if granted > 0 {
                            let plan = fleet.destinations(for: granted + closing, from: me)
                            state.withLock { $0.destinations = plan }
                            context.logger.info("handing devices over to peers below their fair share", metadata: [
                                "devices": "\(granted)", "share": "\(Int(fleet.share(of: me).rounded()))", "held": "\(owned)",
                            ])
                            await handOver(Array(candidates.prefix(granted)))
                        }
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                context.logger.warning("a rebalancing round failed", metadata: ["error": "\(error)"])
            }
            let waiters = state.withLock { state in
                state.firstRoundDone = true
                defer { state.firstRoundWaiters = [] }
                return state.firstRoundWaiters
            }
            waiters.forEach { $0.resume() }
            do { try await context.clock.sleep(for: configuration.rebalanceInterval) } catch { return }
        }
    }
}

extension Supervisor.State {
    /// Queues a released device for the peer with the most planned places left; false when no
    /// place is planned (no peer, or the fleet could not be read): the device is then only released.
    mutating func route(_ deviceID: UUID, now: Duration, hold: Duration) -> Bool {
        guard let peer = destinations.filter({ $0.value > 0 }).max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key })?.key else {
            return false
        }
        destinations[peer, default: 0] -= 1
        outgoing[peer, default: []].append(deviceID)
        if handedAway.count >= 4096 { handedAway = handedAway.filter { $0.value > now } }
        handedAway[deviceID] = now + hold
        return true
    }
}
