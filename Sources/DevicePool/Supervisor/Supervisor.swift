import CoreMetrics
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import WAClient
import WAWire

/// A started pairing: which device it pairs and when it ends at the latest. Its QR codes and
/// outcome come as `.pairing` events on the bus (`EventBus.pairings.watch`).
public struct PairingTicket: Sendable {
    public var pairingID: UUID
    public var deviceID: UUID
    public var deadline: Date
}

/// The device pool of one gateway process: one connection actor per device it owns. At start it
/// claims every paired device no live instance holds, at a jittered, rate-limited ramp; it
/// renews the leases of its devices in one batch and closes any device whose lease it cannot
/// prove; it ends pairings left by dead instances; on SIGTERM it shuts every device down (the
/// disconnect reason `shutdown` is recorded) and releases their leases.
public final class Supervisor: Service, Sendable {
    private enum Command: Sendable {
        case run(DeviceConnection)
        case ended(UUID)
        case shutdown
    }

    struct Running: Sendable {
        var actor: DeviceConnection
        /// The last time the database confirmed this device's lease.
        var confirmedAt: Date
    }

    struct State {
        var running: [UUID: Running] = [:]
        var shuttingDown = false
    }

    let context: PoolContext
    let state = Mutex(State())
    private let commands: AsyncStream<Command>
    private let commandSink: AsyncStream<Command>.Continuation

    public init(
        configuration: PoolConfiguration,
        store: any DeviceStore,
        connector: any UpstreamConnector,
        sealer: CredentialSealer,
        events: EventBus,
        clock: any Clock<Duration> = ContinuousClock(),
        now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger
    ) {
        context = PoolContext(
            configuration: configuration, store: store, connector: connector, sealer: sealer,
            locks: PairingLocks(), events: events, clock: clock, now: now, logger: logger, metrics: PoolMetrics()
        )
        (commands, commandSink) = AsyncStream.makeStream(of: Command.self)
    }

    public var configuration: PoolConfiguration { context.configuration }

    // MARK: Running

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.keepLeases() }
            group.addTask { await self.claimFreeDevices() }
            group.addTask { await self.sweepInterruptedPairings() }
            group.addTask { await self.sweepOldMessages() }
            group.addTask { await self.closeStoppedDevices() }
            await withGracefulShutdownHandler {
                for await command in commands {
                    switch command {
                    case .run(let actor):
                        group.addTask {
                            await actor.run()
                            self.commandSink.yield(.ended(actor.deviceID))
                        }
                    case .ended(let deviceID):
                        let done = state.withLock { state in
                            state.running[deviceID] = nil
                            return state.shuttingDown && state.running.isEmpty
                        }
                        if done { commandSink.finish() }
                    case .shutdown:
                        let actors = state.withLock { state in
                            state.shuttingDown = true
                            return state.running.values.map(\.actor)
                        }
                        context.logger.info("shutting down the device pool", metadata: ["devices": "\(actors.count)"])
                        if actors.isEmpty { commandSink.finish() }
                        actors.forEach { $0.send(.shutdown) }
                    }
                }
            } onGracefulShutdown: {
                self.commandSink.yield(.shutdown)
            }
            group.cancelAll()
        }
    }

    /// Starts the graceful shutdown without a signal (tests, and `pairgate chaos`).
    public func shutdown() {
        commandSink.yield(.shutdown)
    }

    func start(_ actor: DeviceConnection) -> Bool {
        let accepted = state.withLock { state in
            guard !state.shuttingDown, state.running[actor.deviceID] == nil else { return false }
            state.running[actor.deviceID] = Running(actor: actor, confirmedAt: context.now())
            return true
        }
        if accepted { commandSink.yield(.run(actor)) }
        return accepted
    }

    /// Devices currently owned by this process.
    public var ownedDevices: [UUID] {
        state.withLock { Array($0.running.keys) }
    }

    /// Stops running a device here as at shutdown (disconnect `shutdown` recorded, lease
    /// released) without changing what it is: used when its tenant is disabled. Returns whether
    /// this process ran it.
    @discardableResult
    public func stop(deviceID: UUID) -> Bool {
        guard let actor = state.withLock({ $0.running[deviceID]?.actor }) else { return false }
        actor.send(.shutdown)
        return true
    }

    /// A message was queued for `deviceID`: its actor sends it if this instance holds the device and
    /// it is online. False when it is not held here (its owner hears of it through the fleet bus).
    @discardableResult
    public func outboxReady(deviceID: UUID) -> Bool {
        guard let actor = state.withLock({ $0.running[deviceID]?.actor }) else { return false }
        return actor.send(.outboxReady)
    }

    // MARK: Pairing

    /// Starts a pairing for a tenant: claims the tenant's pairing lock before anything else (no
    /// await in between), then the database's. Throws `PairingInProgress` naming the running one.
    public func startPairing(tenantID: UUID, method: PairingMethod, deviceID: UUID? = nil, name: String? = nil) async throws -> PairingTicket {
        if state.withLock({ $0.shuttingDown }) { throw SupervisorError(.shuttingDown) }
        let claim: PairingLocks.Claim
        do {
            claim = try context.locks.claim(tenantID: tenantID)
        } catch {
            context.metrics.lockRejections.increment()
            throw error
        }
        do {
            let begun = try await context.store.beginPairing(
                tenantID: tenantID, deviceID: deviceID, name: name, method: method.kind,
                owner: context.configuration.instanceID, leaseTTL: context.configuration.leaseTTL,
                window: context.configuration.pairingWindow
            )
            context.locks.attach(claim, pairingID: begun.pairingID, deviceID: begun.device.id, expiresAt: begun.deadline)
            let actor = DeviceConnection(
                record: begun.device, lease: begun.lease, credentials: context.connector.newCredentials(),
                pairing: PairingContext(id: begun.pairingID, method: method, claim: claim, deadline: begun.deadline, startedAt: context.now()),
                context: context
            )
            guard start(actor) else {
                try? await context.store.endPairing(begun.pairingID, outcome: .cancelled, detail: "gateway shutting down")
                try? await context.store.releaseLease(begun.lease)
                context.locks.release(claim)
                throw SupervisorError(.shuttingDown)
            }
            return PairingTicket(pairingID: begun.pairingID, deviceID: begun.device.id, deadline: begun.deadline)
        } catch let error as PairingInProgress {
            context.locks.release(claim)
            context.metrics.lockRejections.increment()
            throw error
        } catch {
            context.locks.release(claim)
            throw error
        }
    }

    // MARK: Resets

    /// Resets a device. A device this process runs is reset at once; a device nobody runs is
    /// taken over first (its lease is free); a device another instance runs throws `notHere`
    /// naming the owner, so the caller can route the request there.
    public func reset(deviceID: UUID, mode: ResetMode) async throws -> ResetResult {
        if let actor = state.withLock({ $0.running[deviceID]?.actor }), let result = await ask(actor, mode) {
            return result
        }
        // Not running here, or its actor ended before it could answer: the database decides.
        guard let record = try await context.store.device(deviceID) else { throw SupervisorError(.unknownDevice) }
        if record.state.kind == .pairing, let owner = record.leaseOwner, owner != context.configuration.instanceID,
           (record.leaseExpiresAt ?? .distantPast) > context.now() {
            // Cancelling a pairing is its owner's job; the caller routes the request there.
            throw SupervisorError(.notHere, owner: owner)
        }
        if !record.state.wantsConnection {
            return .unchanged(record.state)
        }
        if record.desiredState == .stopped {
            return try await resetStopped(record, mode: mode)
        }
        guard let (owned, lease) = try await context.store.acquireLease(
            deviceID: deviceID, owner: context.configuration.instanceID, ttl: context.configuration.leaseTTL
        ) else {
            throw SupervisorError(.notHere, owner: record.leaseOwner)
        }
        let actor = DeviceConnection(record: owned, lease: lease, credentials: nil, pairing: nil, context: context)
        guard start(actor) else { throw SupervisorError(.shuttingDown) }
        guard let result = await ask(actor, mode) else { throw SupervisorError(.shuttingDown) }
        return result
    }

    /// The actor's answer, or nil when it ended first (it then never reads the request).
    private func ask(_ actor: DeviceConnection, _ mode: ResetMode) async -> ResetResult? {
        await withCheckedContinuation { answer in
            if !actor.send(.reset(mode, answer)) { answer.resume(returning: nil) }
        }
    }

    // MARK: Background loops

    /// Renews every held lease in one batch each `renewInterval`; a device whose lease was not
    /// confirmed for `selfCloseAfter` closes its connection before the lease could expire.
    private func keepLeases() async {
        let configuration = context.configuration
        while !Task.isCancelled {
            do { try await context.clock.sleep(for: configuration.renewInterval) } catch { return }
            let held = state.withLock { $0.running.values.map { ($0.actor.lease, $0.confirmedAt) } }
            guard !held.isEmpty else { continue }
            let now = context.now()
            do {
                let renewed = try await context.store.renewLeases(held.map(\.0), ttl: configuration.leaseTTL)
                context.metrics.leaseRenewalsOK.increment()
                var lost: [DeviceConnection] = []
                state.withLock { state in
                    for (lease, _) in held {
                        if renewed.contains(lease.deviceID) {
                            state.running[lease.deviceID]?.confirmedAt = now
                        } else if let running = state.running[lease.deviceID], running.actor.lease == lease {
                            lost.append(running.actor)
                        }
                    }
                }
                lost.forEach { $0.send(.leaseLost) }
            } catch {
                context.metrics.leaseRenewalsFailed.increment()
                context.logger.warning("lease renewal failed", metadata: ["error": "\(error)"])
                let expiring = held.filter { now.timeIntervalSince($0.1) >= configuration.selfCloseAfter.seconds }.map(\.0)
                let actors = state.withLock { state in expiring.compactMap { state.running[$0.deviceID]?.actor } }
                actors.forEach { $0.send(.leaseLost) }
            }
        }
    }

    /// Claims paired devices no live instance holds: at boot, and whenever an owner dies or
    /// stops. Starts are paced at `rampPerSecond` with jitter so a restart does not storm.
    private func claimFreeDevices() async {
        await claimFreeDevices(clock: context.clock)
    }

    /// Each start is due one jittered interval after the previous one was due, not after it
    /// finished: the lease round trip is part of the interval, so the ramp holds its rate
    /// instead of falling to 1 / (interval + round trip). Falling behind by more than one
    /// interval is not caught up on, so a slow database never turns into a burst afterwards.
    private func claimFreeDevices<C: Clock<Duration>>(clock: C) async {
        let configuration = context.configuration
        var random = SystemRandomNumberGenerator()
        let batch = 500
        var due = clock.now
        while !Task.isCancelled {
            var found = 0
            do {
                let candidates = try await context.store.claimableDevices(limit: batch)
                found = candidates.count
                for deviceID in candidates {
                    if Task.isCancelled || state.withLock({ $0.shuttingDown }) { return }
                    if state.withLock({ $0.running[deviceID] != nil }) { continue }
                    guard let (record, lease) = try await context.store.acquireLease(
                        deviceID: deviceID, owner: configuration.instanceID, ttl: configuration.leaseTTL
                    ) else { continue }
                    let actor = DeviceConnection(record: record, lease: lease, credentials: nil, pairing: nil, context: context)
                    if !start(actor) {
                        try? await context.store.releaseLease(lease)
                        return
                    }
                    let pace = 1 / max(configuration.rampPerSecond, 0.001) * Double.random(in: 0.5...1.5, using: &random)
                    due = max(due, clock.now.advanced(by: .seconds(-pace))).advanced(by: .seconds(pace))
                    do { try await clock.sleep(until: due, tolerance: nil) } catch { return }
                }
            } catch {
                context.logger.warning("looking for devices to claim failed", metadata: ["error": "\(error)"])
            }
            if found < batch {
                do { try await clock.sleep(for: configuration.claimInterval) } catch { return }
                due = clock.now
            }
        }
    }

    /// Deletes stored messages past `messageRetention`, in batches of 1,000 until none is due. Any
    /// number of instances may sweep at once: each batch skips the rows another is deleting.
    private func sweepOldMessages() async {
        let batch = 1000
        while !Task.isCancelled {
            await expireQueuedMessages(batch: batch)
            guard let retention = context.configuration.messageRetention else {
                do { try await context.clock.sleep(for: context.configuration.messageSweepInterval) } catch { return }
                continue
            }
            do {
                var deleted = 0
                while !Task.isCancelled {
                    let count = try await context.store.deleteMessages(olderThan: retention, limit: batch)
                    deleted += count
                    if count < batch { break }
                }
                if deleted > 0 {
                    context.logger.info("deleted messages past their retention", metadata: ["count": "\(deleted)"])
                }
            } catch {
                context.logger.warning("sweeping old messages failed", metadata: ["error": "\(error)"])
            }
            do { try await context.clock.sleep(for: context.configuration.messageSweepInterval) } catch { return }
        }
    }

    /// Fails queued messages older than `maxQueueAge` (`expired`) of devices that are not online,
    /// whose senders would not get to them; an online device's sender expires its own.
    private func expireQueuedMessages(batch: Int) async {
        do {
            var expired = 0
            while !Task.isCancelled {
                let count = try await context.store.expireQueuedMessages(olderThan: context.configuration.maxQueueAge, limit: batch)
                expired += count
                if count < batch { break }
            }
            if expired > 0 {
                context.logger.info("expired queued messages of devices that are not online", metadata: ["count": "\(expired)"])
            }
        } catch {
            context.logger.warning("expiring queued messages failed", metadata: ["error": "\(error)"])
        }
    }

    private func sweepInterruptedPairings() async {
        while !Task.isCancelled {
            do {
                let ended = try await context.store.interruptExpiredPairings(instance: context.configuration.instanceID)
                if ended > 0 {
                    context.logger.notice("ended pairings left open by stopped instances", metadata: ["count": "\(ended)"])
                    for _ in 0..<ended { context.metrics.pairingEnded(.interrupted) }
                }
            } catch {
                context.logger.warning("sweeping interrupted pairings failed", metadata: ["error": "\(error)"])
            }
            do { try await context.clock.sleep(for: context.configuration.sweepInterval) } catch { return }
        }
    }
}
