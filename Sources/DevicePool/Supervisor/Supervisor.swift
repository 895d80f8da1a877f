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
/// renews the leases of its devices in one batch, and a timer of its own closes any device whose
/// lease was not confirmed in time (TTL − margin), whatever the renewal in flight does; it ends
/// pairings left by dead instances; on SIGTERM it shuts every device down (the disconnect reason
/// `shutdown` is recorded) and releases their leases, within `shutdownTimeout`.
public final class Supervisor: Service, Sendable {
    private enum Command: Sendable {
        case run(DeviceConnection)
        case ended(UUID)
        case shutdown
        /// `shutdownTimeout` passed with devices still closing.
        case shutdownOverdue
    }

    struct Running: Sendable {
        var actor: DeviceConnection
        /// When the last renewal that succeeded was sent (or the lease was taken), on `uptime`.
        var confirmed: Duration
        /// Its deadline passed: it is closing, and no renewal counts for it any more.
        var expired = false
    }

    struct State {
        var running: [UUID: Running] = [:]
        /// Devices whose lease is being taken here (no actor yet): one acquisition per device at
        /// a time, so a second one cannot bump the epoch under the actor the first one starts.
        var starting: Set<UUID> = []
        /// Callers waiting for a device's slot to change (its actor starting or ending).
        var slotWaiters: [UUID: [CheckedContinuation<Void, Never>]] = [:]
        var shuttingDown = false
        /// Every device leaves for peers (`drain`): nothing is claimed here any more.
        var draining = false
        /// Devices closing to be handed to a peer.
        var handingOver: Set<UUID> = []
        /// How many released devices go to each peer yet (the plan of the last round or drain).
        var destinations: [String: Int] = [:]
        /// Released devices not yet announced to their new owner, by peer.
        var outgoing: [String: [UUID]] = [:]
        /// Devices handed away, which this instance does not claim back until the time (on `uptime`).
        var handedAway: [UUID: Duration] = [:]
        /// The first rebalancing round (registration included) ended; callers waiting for it.
        var firstRoundDone = false
        var firstRoundWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// A device's place in this process, as `takeSlot` finds it.
    enum Slot {
        /// Free: it is now reserved for the caller, who starts an actor or calls `abandon`.
        case reserved
        /// Another caller is taking its lease.
        case starting
        case running(DeviceConnection)
    }

    let context: PoolContext
    let state = Mutex(State())
    private let commands: AsyncStream<Command>
    private let commandSink: AsyncStream<Command>.Continuation
    /// Rings when released devices wait in `takeHandovers()`.
    public let handoverSignals: AsyncStream<Void>
    let handoverSignalSink: AsyncStream<Void>.Continuation

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
        connector.announce(webVersion: configuration.webVersion)
        context = PoolContext(
            configuration: configuration, store: store, connector: connector, sealer: sealer,
            locks: PairingLocks(), events: events, clock: clock, now: now, logger: logger, metrics: PoolMetrics(),
            uptime: Self.stopwatch(clock), clientVersion: ClientVersionCell(configuration.webVersion),
            resumeRamp: RampPacer(perSecond: configuration.rampPerSecond)
        )
        (commands, commandSink) = AsyncStream.makeStream(of: Command.self)
        (handoverSignals, handoverSignalSink) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    private static func stopwatch<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let origin = clock.now
        return { origin.duration(to: clock.now) }
    }

    public var configuration: PoolConfiguration { context.configuration }

    // MARK: Running

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.keepLeases() }
            group.addTask { await self.enforceLeaseDeadlines() }
            group.addTask { await self.claimFreeDevices() }
            group.addTask { await self.sweepInterruptedPairings() }
            group.addTask { await self.sweepOldMessages() }
            group.addTask { await self.closeStoppedDevices() }
            group.addTask { await self.rebalance() }
            await withGracefulShutdownHandler {
                for await command in commands {
                    switch command {
                    case .run(let actor):
                        group.addTask {
                            await actor.run()
                            self.commandSink.yield(.ended(actor.deviceID))
                        }
                    case .ended(let deviceID):
                        let now = context.uptime()
                        let (done, waiters, handedAway) = state.withLock { state in
                            state.running[deviceID] = nil
                            let leaving = state.handingOver.remove(deviceID) != nil || state.shuttingDown
                            return (state.shuttingDown && state.running.isEmpty, state.slotWaiters.removeValue(forKey: deviceID) ?? [],
                                    leaving && state.route(deviceID, now: now, hold: context.configuration.claimInterval * 2))
                        }
                        waiters.forEach { $0.resume() }
                        if handedAway {
                            context.metrics.handoversOut.increment()
                            handoverSignalSink.yield()
                        }
                        if done { commandSink.finish() }
                    case .shutdown:
                        let actors = state.withLock { state in
                            state.shuttingDown = true
                            return state.running.values.map(\.actor)
                        }
                        context.logger.info("shutting down the device pool", metadata: ["devices": "\(actors.count)"])
                        let (clock, timeout) = (context.clock, context.configuration.shutdownTimeout)
                        if actors.isEmpty {
                            commandSink.finish()
                        } else {
                            group.addTask {
                                // Peers are told which devices to claim as each is released; a fleet
                                // that cannot be read in time leaves them to the peers' claim polls.
                                await self.planDrain(within: min(.seconds(2), timeout / 4))
                                actors.forEach { $0.send(.shutdown) }
                            }
                        }
                        group.addTask {
                            do { try await clock.sleep(for: timeout) } catch { return }
                            self.commandSink.yield(.shutdownOverdue)
                        }
                    case .shutdownOverdue:
                        let stuck = state.withLock { $0.running.values.map(\.actor) }
                        guard !stuck.isEmpty else { continue }
                        context.logger.warning("devices still closing at the shutdown bound: closing their connections, giving up their writes",
                                               metadata: ["devices": "\(stuck.count)"])
                        await withDiscardingTaskGroup { closing in
                            for actor in stuck { closing.addTask { await actor.expire("shutdown bound reached") } }
                        }
                        // Cancelled, the actors stop retrying, and their database calls in flight are interrupted.
                        group.cancelAll()
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

    /// Reserves the device's slot unless an actor runs or starts for it here.
    func takeSlot(_ deviceID: UUID) throws -> Slot {
        try state.withLock { state in
            if let running = state.running[deviceID] { return .running(running.actor) }
            if state.starting.contains(deviceID) { return .starting }
            guard !state.shuttingDown else { throw SupervisorError(.shuttingDown) }
            state.starting.insert(deviceID)
            return .reserved
        }
    }

    /// Returns once the device's slot is no longer `seen` (an actor that was starting runs or was
    /// abandoned; one that ran has ended).
    private func slotChanged(_ deviceID: UUID, from seen: Slot) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let unchanged = state.withLock { state in
                let same = switch seen {
                case .reserved: false
                case .starting: state.starting.contains(deviceID)
                case .running(let actor): state.running[deviceID]?.actor === actor
                }
                if same { state.slotWaiters[deviceID, default: []].append(continuation) }
                return same
            }
            if !unchanged { continuation.resume() }
        }
    }

    /// Gives a reservation up (no lease was taken, or it was released).
    func abandon(_ deviceID: UUID) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.starting.remove(deviceID) != nil else { return [] }
            return state.slotWaiters.removeValue(forKey: deviceID) ?? []
        }
        waiters.forEach { $0.resume() }
    }

    /// How many callers wait for the device's slot (tests watch a reset wait for a claim).
    func slotWaiters(_ deviceID: UUID) -> Int {
        state.withLock { $0.slotWaiters[deviceID]?.count ?? 0 }
    }

    /// Runs `actor`, whose lease was taken by a call sent at `confirmed` (on `uptime`), in the
    /// slot reserved for it. False when shutting down (the caller releases the lease).
    func start(_ actor: DeviceConnection, confirmed: Duration) -> Bool {
        let (accepted, waiters) = state.withLock { state in
            state.starting.remove(actor.deviceID)
            let waiters = state.slotWaiters.removeValue(forKey: actor.deviceID) ?? []
            guard !state.shuttingDown, state.running[actor.deviceID] == nil else { return (false, waiters) }
            state.running[actor.deviceID] = Running(actor: actor, confirmed: confirmed)
            return (true, waiters)
        }
        waiters.forEach { $0.resume() }
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
            // A device named by the caller is reserved here first, so that no claim or reset here
            // takes its lease at the same time.
            var reserved: UUID?
            if let deviceID { reserved = try await reserveForPairing(deviceID) }
            do {
                let sent = context.uptime()
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
                guard start(actor, confirmed: sent) else {
                    try? await context.store.endPairing(begun.pairingID, lease: begun.lease, outcome: .cancelled, detail: "gateway shutting down")
                    try? await context.store.releaseLease(begun.lease)
                    context.locks.release(claim)
                    throw SupervisorError(.shuttingDown)
                }
                return PairingTicket(pairingID: begun.pairingID, deviceID: begun.device.id, deadline: begun.deadline)
            } catch {
                if let reserved { abandon(reserved) }
                throw error
            }
        } catch let error as PairingInProgress {
            context.locks.release(claim)
            context.metrics.lockRejections.increment()
            throw error
        } catch {
            context.locks.release(claim)
            throw error
        }
    }

    /// Reserves a device to pair; nil when an actor runs it here for a state that cannot be
    /// paired (the pairing is then refused by the database). An actor of an unpaired or
    /// logged-out device is finishing: its end is waited for.
    private func reserveForPairing(_ deviceID: UUID) async throws -> UUID? {
        while true {
            let slot = try takeSlot(deviceID)
            switch slot {
            case .reserved:
                return deviceID
            case .starting:
                await slotChanged(deviceID, from: slot)
            case .running:
                guard let record = try await context.store.device(deviceID), !record.state.wantsConnection else { return nil }
                await slotChanged(deviceID, from: slot)
            }
        }
    }

    // MARK: Resets

    /// Resets a device. A device this process runs is reset at once; a device nobody runs is
    /// taken over first (its lease is free); a device another instance runs throws `notHere`
    /// naming the owner, so the caller can route the request there. A device whose actor is
    /// starting or ending here is waited for: its lease is taken once per actor.
    public func reset(deviceID: UUID, mode: ResetMode) async throws -> ResetResult {
        while true {
            let slot = try takeSlot(deviceID)
            switch slot {
            case .running(let actor):
                if let result = await ask(actor, mode) { return result }
                // Its actor ended before it could answer: once it is gone, look again.
                await slotChanged(deviceID, from: slot)
            case .starting:
                await slotChanged(deviceID, from: slot)
            case .reserved:
                do {
                    return try await resetFromDatabase(deviceID, mode: mode)
                } catch {
                    abandon(deviceID)
                    throw error
                }
            }
        }
    }

    /// A reset of a device not running here, its slot reserved: the database decides.
    private func resetFromDatabase(_ deviceID: UUID, mode: ResetMode) async throws -> ResetResult {
        guard let record = try await context.store.device(deviceID) else { throw SupervisorError(.unknownDevice) }
        if record.state.kind == .pairing, let owner = record.leaseOwner, owner != context.configuration.instanceID,
           (record.leaseExpiresAt ?? .distantPast) > context.now() {
            // Cancelling a pairing is its owner's job; the caller routes the request there.
            throw SupervisorError(.notHere, owner: owner)
        }
        if !record.state.wantsConnection {
            abandon(deviceID)
            return .unchanged(record.state)
        }
        if record.desiredState == .stopped {
            // No actor starts for it: the reservation ends with the reset.
            defer { abandon(deviceID) }
            return try await resetStopped(record, mode: mode)
        }
        let sent = context.uptime()
        guard let (owned, lease) = try await context.store.acquireLease(
            deviceID: deviceID, owner: context.configuration.instanceID, ttl: context.configuration.leaseTTL
        ) else {
            throw SupervisorError(.notHere, owner: record.leaseOwner)
        }
        let actor = DeviceConnection(record: owned, lease: lease, credentials: nil, pairing: nil, context: context)
        guard start(actor, confirmed: sent) else {
            // Shutting down: the lease taken for nothing is given back at once, not left to expire.
            try? await context.store.releaseLease(lease)
            throw SupervisorError(.shuttingDown)
        }
        guard let result = await ask(actor, mode) else { throw SupervisorError(.shuttingDown) }
        return result
    }

    /// The actor's answer, or nil when it ended first (it then never reads the request).
    private func ask(_ actor: DeviceConnection, _ mode: ResetMode) async -> ResetResult? {
        await withCheckedContinuation { answer in
            if !actor.send(.reset(mode, answer)) { answer.resume(returning: nil) }
        }
    }

    // MARK: The client version

    /// The WhatsApp Web version connections announce now.
    public var clientVersion: String {
        context.clientVersion.current
    }

    /// Versions WhatsApp refused with 405 (client outdated), as devices report them: a sign to
    /// look for the current version at once. Only the newest unread report is kept.
    public var outdatedVersions: AsyncStream<String> {
        context.clientVersion.outdated
    }

    /// Announces `version` on every connection opened from now on; when it is new, the devices
    /// this process holds suspended as outdated resume, at the boot ramp's pace.
    public func useClientVersion(_ version: String) {
        context.connector.announce(webVersion: version)
        guard context.clientVersion.set(version) else { return }
        context.logger.notice("the WhatsApp Web version in use changed", metadata: ["version": "\(version)"])
        let actors = state.withLock { $0.running.values.map(\.actor) }
        actors.forEach { $0.send(.clientVersionChanged) }
    }

    // MARK: Background loops

    /// Renews every held lease in one batch each `renewInterval`. A renewal that succeeded moves
    /// its devices' deadlines (`enforceLeaseDeadlines`) to TTL − margin after it was sent; one
    /// that failed or hangs moves nothing, and a device whose lease is gone is stopped.
    private func keepLeases() async {
        let configuration = context.configuration
        while !Task.isCancelled {
            do { try await context.clock.sleep(for: configuration.renewInterval) } catch { return }
            let held = state.withLock { $0.running.values.filter { !$0.expired }.map(\.actor.lease) }
            guard !held.isEmpty else { continue }
            let sent = context.uptime()
            do {
                let renewed = try await context.store.renewLeases(held, ttl: configuration.leaseTTL)
                context.metrics.leaseRenewalsOK.increment()
                var lost: [DeviceConnection] = []
                state.withLock { state in
                    for lease in held {
                        // A device closed at its deadline stays closed, however late this answer says yes.
                        guard let running = state.running[lease.deviceID], running.actor.lease == lease, !running.expired else { continue }
                        if renewed.contains(lease.deviceID) {
                            state.running[lease.deviceID]?.confirmed = max(running.confirmed, sent)
                        } else {
                            lost.append(running.actor)
                        }
                    }
                }
                lost.forEach { $0.send(.leaseLost) }
            } catch {
                context.metrics.leaseRenewalsFailed.increment()
                context.logger.warning("lease renewal failed; devices close at their lease deadline unless a renewal succeeds first",
                                       metadata: ["error": "\(error)"])
            }
        }
    }

    /// Each device's lease deadline, on a timer of its own: TTL − margin after the last renewal
    /// that succeeded was sent, the device's upstream connection is closed — also while the
    /// renewal, or the actor's own write, still waits for the database. Wakes at the earliest
    /// deadline (a device started meanwhile has a later one).
    private func enforceLeaseDeadlines() async {
        let budget = context.configuration.leaseBudget
        while !Task.isCancelled {
            let now = context.uptime()
            let (overdue, next) = state.withLock { state in
                var next = now + budget
                var overdue: [UUID] = []
                for (deviceID, running) in state.running where !running.expired {
                    let deadline = running.confirmed + budget
                    if deadline <= now { overdue.append(deviceID) } else { next = min(next, deadline) }
                }
                let actors = overdue.compactMap { deviceID -> DeviceConnection? in
                    state.running[deviceID]?.expired = true
                    return state.running[deviceID]?.actor
                }
                return (actors, next)
            }
            if !overdue.isEmpty {
                context.logger.warning("closing devices whose lease was not confirmed in time", metadata: ["devices": "\(overdue.count)"])
                context.metrics.leaseDeadlines.increment(by: overdue.count)
                await withDiscardingTaskGroup { group in
                    for actor in overdue {
                        group.addTask { await actor.expire("lease deadline passed without a confirmed renewal") }
                    }
                }
            }
            do { try await context.clock.sleep(for: next - context.uptime()) } catch { return }
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
    /// The candidates are paged by id: devices skipped (running or starting here, taken by
    /// another instance meanwhile) never hide the ones after them.
    private func claimFreeDevices<C: Clock<Duration>>(clock: C) async {
        let configuration = context.configuration
        var random = SystemRandomNumberGenerator()
        let batch = max(1, configuration.claimBatchSize)
        var due = clock.now
        var cursor: UUID?
        while !Task.isCancelled {
            var found = 0
            do {
                let candidates = try await context.store.claimableDevices(after: cursor, limit: batch)
                found = candidates.count
                for deviceID in candidates {
                    cursor = deviceID
                    if Task.isCancelled || state.withLock({ $0.shuttingDown }) { return }
                    guard mayClaim(deviceID), case .reserved = try takeSlot(deviceID) else { continue }
                    let sent = context.uptime()
                    let acquired: (DeviceRecord, Lease)?
                    do {
                        acquired = try await context.store.acquireLease(
                            deviceID: deviceID, owner: configuration.instanceID, ttl: configuration.leaseTTL
                        )
                    } catch {
                        abandon(deviceID)
                        throw error
                    }
                    guard let (record, lease) = acquired else {
                        abandon(deviceID)
                        continue
                    }
                    let actor = DeviceConnection(record: record, lease: lease, credentials: nil, pairing: nil, context: context)
                    if !start(actor, confirmed: sent) {
                        try? await context.store.releaseLease(lease)
                        return
                    }
                    let pace = 1 / max(configuration.rampPerSecond, 0.001) * Double.random(in: 0.5...1.5, using: &random)
                    due = max(due, clock.now.advanced(by: .seconds(-pace))).advanced(by: .seconds(pace))
                    do { try await clock.sleep(until: due, tolerance: nil) } catch { return }
                }
            } catch let error as SupervisorError where error.code == .shuttingDown {
                return
            } catch {
                context.logger.warning("looking for devices to claim failed", metadata: ["error": "\(error)"])
            }
            if found < batch {
                // The last page: start over from the lowest id after a pause.
                cursor = nil
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
