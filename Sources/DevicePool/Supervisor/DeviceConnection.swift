import Foundation
import Logging
import Messaging
import CoreMetrics
import Metrics
import WAClient
import WAWire

/// What every connection actor of one supervisor shares.
struct PoolContext: Sendable {
    let configuration: PoolConfiguration
    let store: any DeviceStore
    let connector: any UpstreamConnector
    let sealer: CredentialSealer
    let locks: PairingLocks
    let events: EventBus
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date
    let logger: Logger
    let metrics: PoolMetrics
    /// Time on `clock` since the supervisor started: lease deadlines and the resume ramp.
    let uptime: @Sendable () -> Duration
    let clientVersion: ClientVersionCell
    let resumeRamp: RampPacer

    static let credentialKind = "device"
}

/// A running pairing as its device's actor knows it.
struct PairingContext: Sendable {
    let id: UUID
    let method: PairingMethod
    let claim: PairingLocks.Claim
    let deadline: Date
    let startedAt: Date
}

/// The answer to a reset request.
public enum ResetResult: Sendable, Hashable {
    /// The reset was applied; the device moved to `state`.
    case applied(DeviceState)
    /// Nothing to do (already logged out or unpaired): resets are idempotent.
    case unchanged(DeviceState)
}

/// One device's life in this process: it holds the device's lease, owns at most one upstream
/// connection, feeds everything that happens into the device state machine and executes what the
/// machine decides. Inputs are handled one at a time from a mailbox, so nothing interleaves.
actor DeviceConnection {
    enum Input: Sendable {
        /// An event of the connection opened as `generation`, delivered by the connection itself.
        case upstream(generation: Int, ClientEvent)
        case wake(token: Int)
        /// Resumed with nil when the actor ended before it could handle the reset.
        case reset(ResetMode, CheckedContinuation<ResetResult?, Never>)
        /// The device was stopped: close and leave. Answered (when asked) like a reset.
        case stop(CheckedContinuation<ResetResult?, Never>?)
        case shutdown
        /// Leave for a peer as at shutdown (disconnect recorded, lease released); answered false,
        /// and nothing done, while a pairing runs (a pairing is not cut short to move it).
        case handOver(CheckedContinuation<Bool, Never>)
        case leaseLost
        /// The WhatsApp Web version in use changed: a device suspended as outdated resumes.
        case clientVersionChanged
        /// A message was queued for this device: send it if online and idle.
        case outboxReady
        /// The ack deadline's timer rang: the message in flight (if any) is checked against it.
        case ackDeadline
    }

    /// The message whose stanza was written and whose server ack is awaited (one at a time).
    struct InFlight: Sendable {
        let messageID: String
        /// What its ack records besides the status (`phash`, a group's sender-key holders).
        let sent: DeviceSender.SentStanza
        /// When (`context.uptime()`) the server's ack is overdue and the connection taken as broken.
        let deadline: Duration
    }

    let deviceID: UUID
    let tenantID: UUID
    nonisolated let lease: Lease
    /// As the lease was taken; a stop that comes later arrives as an input.
    private let desiredState: DesiredState
    /// Closed by the supervisor when the lease's deadline passes.
    nonisolated let fence = LeaseFence()
    private let context: PoolContext
    private var machine: DeviceStateMachine
    private var credentials: DeviceCredentials?
    private var pairing: PairingContext?
    private var session: (any UpstreamSession)?
    /// The receive path, built at the first stanza and rebuilt when the credentials change; it holds
    /// no protocol state (that is loaded per stanza), so an idle device stays small.
    private var receiver: DeviceReceiver?
    /// The send path, built like the receive path.
    private var sender: DeviceSender?
    private var inFlight: InFlight?
    /// The current connection's local address (`ip:port`), recorded with each send attempt.
    private var connectionAddress: String?
    private var pacer: SendPacer
    /// A paced drain is scheduled.
    private var outboxWakeScheduled = false
    /// The ack deadline's timer runs: one per device, re-armed for the next message in flight
    /// rather than one sleeping task per message sent.
    private var ackTimerArmed = false
    private var generation = 0
    private var wakeToken = 0
    /// When the current connection was opened (for the handshake duration).
    private var connectStartedAt: ContinuousClock.Instant?
    private var finished = false
    private var random = SystemRandomNumberGenerator()
    private let inputs: AsyncStream<Input>
    private nonisolated let mailbox: AsyncStream<Input>.Continuation
    private var logger: Logger

    init(record: DeviceRecord, lease: Lease, credentials: DeviceCredentials?, pairing: PairingContext?, context: PoolContext) {
        deviceID = record.id
        tenantID = record.tenantID
        self.lease = lease
        desiredState = record.desiredState
        self.context = context
        self.credentials = credentials
        self.pairing = pairing
        machine = DeviceStateMachine(
            state: record.state,
            policy: context.configuration.policy,
            webVersion: context.clientVersion.current,
            attempt: { if case .backoff(_, let attempt, _) = record.state { attempt } else { 0 } }()
        )
        pacer = SendPacer(perMinute: context.configuration.sendRatePerMinute, burst: context.configuration.sendBurst)
        (inputs, mailbox) = AsyncStream.makeStream(of: Input.self)
        var logger = context.logger
        logger[metadataKey: "device"] = "\(record.id.uuidString.lowercased())"
        self.logger = logger
    }

    /// Queues `input`; false when the actor has ended and will not read it.
    @discardableResult
    nonisolated func send(_ input: Input) -> Bool {
        if case .terminated = mailbox.yield(input) { return false }
        return true
    }

    /// The lease can no longer be proven (its deadline passed, or the shutdown's did): closes the
    /// upstream connection now, from outside the actor, and makes the actor stop without another
    /// connect or write when it next looks.
    nonisolated func expire(_ detail: String) async {
        let session = fence.expire()
        send(.leaseLost)
        await session?.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: detail))
    }

    /// Runs until the device leaves this process (logged out, unpaired, shutdown, lease lost).
    func run() async {
        await withDiscardingTaskGroup { group in
            await step(starting: &group) { connection, timers in await connection.start(timers: &timers) }
            if !finished {
                for await input in inputs {
                    await step(starting: &group) { connection, timers in await connection.handle(input, timers: &timers) }
                    if finished { break }
                }
            }
            group.cancelAll()
        }
        // Cancelled (the supervisor's task ended without a graceful shutdown): nothing more is
        // written, but the upstream connection must not outlive its actor — with no lease renewal
        // behind it, another instance will connect the device once the lease runs out.
        if let current = session {
            session = nil
            await current.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: "the device's task was cancelled"))
        }
        mailbox.finish()
        // A reset that arrived after the last input was handled is answered "ended" (nil), so
        // its caller asks the database instead of waiting forever.
        // (The loop above has ended, so this is the stream's only reader now.)
        for await input in inputs {
            switch input {
            case .reset(_, let answer): answer.resume(returning: nil)
            case .stop(let answer): answer?.resume(returning: nil)
            default: break
            }
        }
    }

    /// Runs one step of the device (its start, or one input) in a task of its own, waits for it,
    /// and starts the timers it asked for in `group`, the device's task group. Swift's task
    /// allocator keeps a task's async frames (its slabs) until the task ends, and this actor's own
    /// task lives as long as the device is here: a stanza's way through the Signal pipeline into
    /// PostgreSQL, taken in it, stayed allocated for every idle device afterwards (about 40 KiB
    /// each in a debug build; docs/performance.md, "Fleet"). A step's task ends with the step.
    private func step(
        starting group: inout DiscardingTaskGroup,
        _ body: @escaping @Sendable (isolated DeviceConnection, inout Timers) async -> Void
    ) async {
        let task = Task {
            var timers = Timers()
            await body(self, &timers)
            return timers
        }
        let timers = await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
        for timer in timers.bodies {
            group.addTask(operation: timer)
        }
    }

    /// The timers a step asks for (a wake, a paced drain, an ack deadline): each sleeps, then puts
    /// an input into the mailbox. They run in the device's task group, so they end with it.
    struct Timers: Sendable {
        fileprivate private(set) var bodies: [@Sendable () async -> Void] = []

        mutating func add(_ body: @escaping @Sendable () async -> Void) {
            bodies.append(body)
        }
    }

    // MARK: Starting

    private func start(timers: inout Timers) async {
        if let pairing {
            if let credentials {
                // Keys of the pairing are stored before the first QR exists.
                guard await saveCredentials(credentials) else { return }
            }
            await apply(.pairRequested(pairing.method), timers: &timers)
            return
        }
        if desiredState == .stopped {
            // Stopped between the claim loop's look and the lease: nobody connects it.
            logger.notice("the device was stopped before it started here; leaving it")
            await finish()
            return
        }
        switch machine.state {
        case .paired, .online, .connecting:
            guard await loadCredentials(timers: &timers) else { return }
            await apply(.connectRequested, timers: &timers)
        case .backoff(let until, _, _):
            guard await loadCredentials(timers: &timers) else { return }
            if until <= context.now() {
                await apply(.connectRequested, timers: &timers)
            } else {
                scheduleWake(at: until, timers: &timers)
            }
        case .suspended(.clientOutdated(let version)) where version != context.clientVersion.current:
            guard await loadCredentials(timers: &timers) else { return }
            logger.info("the WhatsApp Web version in use changed; retrying a device suspended as client_outdated")
            await apply(.suspensionLifted, timers: &timers)
        case .suspended(.credentialsUnreadable):
            guard await loadCredentials(timers: &timers) else { return }
            logger.notice("the device's credentials can be read again; resuming it")
            await apply(.suspensionLifted, timers: &timers)
        case .suspended(.temporaryBan(let until)):
            guard await loadCredentials(timers: &timers) else { return }
            if let until, until > context.now() {
                scheduleWake(at: until, timers: &timers)
            } else {
                await apply(.suspensionLifted, timers: &timers)
            }
        case .suspended:
            guard await loadCredentials(timers: &timers) else { return }
        case .unpaired, .pairing, .loggedOut:
            await finish()
        }
    }

    private func loadCredentials(timers: inout Timers) async -> Bool {
        do {
            guard let sealed = try await context.store.loadCredentials(deviceID: deviceID, kind: PoolContext.credentialKind) else {
                logger.error("a paired device has no stored credentials; it must be paired again")
                let reason = DisconnectReason(stage: .local, category: .loggedOut, detail: "no stored credentials")
                await apply(.disconnected(reason), timers: &timers)
                return false
            }
            credentials = try context.sealer.tenant(tenantID).open(decoding: DeviceCredentials.self, from: sealed, deviceID: deviceID, kind: PoolContext.credentialKind)
            return true
        } catch let error as SealingError {
            // An operator problem (a master key missing from the configuration, a tampered row),
            // not the device's: it stays suspended and held here — not released to be claimed
            // again every claim interval — until an instance that can open it takes it.
            logger.error("cannot read the device's credentials; suspending it", metadata: ["error": "\(error)"])
            await apply(.credentialsUnreadable, timers: &timers)
            return false
        } catch {
            logger.warning("could not load the device's credentials; leaving it to a later claim", metadata: ["error": "\(error)"])
            await finish()
            return false
        }
    }

    // MARK: Inputs

    private func handle(_ input: Input, timers: inout Timers) async {
        if fence.isExpired {
            if case .reset(_, let answer) = input { answer.resume(returning: nil) }
            if !finished {
                logger.warning("the lease's deadline passed without a confirmed renewal; stopped without further writes")
                // The fence closed the connection already.
                session = nil
                generation += 1
                await loseLease()
            }
            return
        }
        switch input {
        case .upstream(let generation, let event):
            guard generation == self.generation else {
                // Its connection was closed on purpose; only a pending confirmation needs an answer.
                if case .pairSuccess(_, let confirmation) = event {
                    confirmation.reject(LeaseLost(deviceID: deviceID))
                }
                return
            }
            let source = session
            await handleUpstream(event, timers: &timers)
            // Room for the next event: the connection reads on while its consumer keeps up.
            source?.handled()
        case .wake(let token):
            guard token == wakeToken else { return }
            switch machine.state {
            case .backoff: await apply(.backoffElapsed, timers: &timers)
            case .suspended: await apply(.suspensionLifted, timers: &timers)
            default: break
            }
        case .reset(let mode, let answer):
            let before = machine.state
            // Connecting without credentials would log the device out: read them again first.
            if mode == .soft, before == .suspended(.credentialsUnreadable) {
                guard await loadCredentials(timers: &timers) else {
                    answer.resume(returning: .unchanged(machine.state))
                    return
                }
            }
            await apply(.reset(mode), timers: &timers)
            answer.resume(returning: machine.state == before ? .unchanged(before) : .applied(machine.state))
        case .stop(let answer):
            guard pairing == nil else {
                // A pairing is not cut short; a device stopped meanwhile stops once it is paired.
                answer?.resume(returning: .unchanged(machine.state))
                return
            }
            await apply(.stop, timers: &timers)
            await finish()
            answer?.resume(returning: .applied(machine.state))
        case .shutdown:
            await apply(.shutdown, timers: &timers)
            await finish()
        case .handOver(let answer):
            guard pairing == nil else {
                answer.resume(returning: false)
                return
            }
            answer.resume(returning: true)
            await apply(.shutdown, timers: &timers)
            await finish()
        case .leaseLost:
            context.metrics.leasesLost.increment()
            logger.warning("lease lost; closing the connection without further writes")
            await loseLease()
        case .clientVersionChanged:
            resumeIfOutdated(timers: &timers)
        case .outboxReady:
            outboxWakeScheduled = false
            await drain(timers: &timers)
        case .ackDeadline:
            ackTimerArmed = false
            await checkAckDeadline(timers: &timers)
        }
    }

    /// A device suspended as outdated whose refused version is no longer the one in use comes
    /// back at the ramp's pace (every device of the fleet may be waiting for this).
    private func resumeIfOutdated(timers: inout Timers) {
        guard case .suspended(.clientOutdated(let refused)) = machine.state, refused != context.clientVersion.current else { return }
        let delay = context.resumeRamp.delay(at: context.uptime())
        scheduleWake(at: context.now().addingTimeInterval(delay.seconds), timers: &timers)
    }

    private func handleUpstream(_ event: ClientEvent, timers: inout Timers) async {
        switch event {
        case .qr(let code, let validFor):
            context.metrics.qrIssued.increment()
            let expiresAt = context.now().addingTimeInterval(validFor.seconds)
            publish(.qr(code, expiresAt: expiresAt))
            await issuedCode(expiresAt: expiresAt, timers: &timers)
        case .pairingCode(let code, let validFor):
            let expiresAt = context.now().addingTimeInterval(validFor.seconds)
            publish(.code(code, expiresAt: expiresAt))
            await issuedCode(expiresAt: expiresAt, timers: &timers)
        case .pairSuccess(let paired, let confirmation):
            // Durable before the phone is told: the reply waits for this confirmation.
            guard await saveCredentials(paired) else {
                confirmation.reject(LeaseLost(deviceID: deviceID))
                return
            }
            do {
                try await context.store.saveAccount(lease, jid: paired.account?.jid, lid: paired.account?.lid, platform: paired.account?.platform)
            } catch {
                confirmation.reject(error)
                return
            }
            credentials = paired
            confirmation.accept()
            if let jid = paired.account?.jid {
                publish(.paired(jid: jid))
            }
            await apply(.paired, timers: &timers)
        case .paired:
            break
        case .online(let info):
            context.metrics.connectionResult("online")
            connectionAddress = info.localAddress
            if let started = connectStartedAt {
                context.metrics.handshakeDurations.recordNanoseconds(started.duration(to: .now).nanoseconds)
                connectStartedAt = nil
            }
            if info.lid != nil, info.lid != credentials?.account?.lid {
                try? await context.store.saveAccount(lease, jid: nil, lid: info.lid, platform: nil)
            }
            await apply(.loginSucceeded, timers: &timers)
            await drain(timers: &timers)
        case .credentialsUpdated(let updated):
            credentials = updated
            _ = await saveCredentials(updated)
        case .stanza(let node) where node.tag == "ack":
            await acknowledged(node, timers: &timers)
        case .stanza(let node):
            await receive(node)
        case .keepaliveLost:
            context.metrics.keepalive("lost")
            await apply(.keepaliveChanged, timers: &timers)
        case .keepaliveRestored:
            context.metrics.keepalive("restored")
            await apply(.keepaliveChanged, timers: &timers)
        case .disconnected(let reason), .loggedOut(let reason):
            session = nil
            // Not acked: sent again, with the same id, once the device is back.
            inFlight = nil
            context.metrics.disconnect(reason)
            if reason.category == .ackRejected {
                // The server found fault with our answers: the detail names the stanza.
                logger.warning("the server refused an ack", metadata: ["detail": "\(reason.detail)"])
            }
            await apply(.disconnected(reason), timers: &timers)
            if case .suspended(.clientOutdated(let refused)) = machine.state {
                context.clientVersion.reportOutdated(refused)
                // The version may have changed while this connection was being refused.
                resumeIfOutdated(timers: &timers)
            }
        }
    }

    /// One stanza through the receive pipeline: committed, then answered. A store failure is retried
    /// from the start (the state is loaded again, so a commit that did land shows as stored); a lost
    /// lease or a store that stays down stops the device, leaving the stanza unanswered for the next
    /// owner, as the server delivers it again.
    private func receive(_ node: Node) async {
        guard let session, let credentials else { return }
        if receiver?.credentials != credentials {
            let store = context.store.protocolStore(lease, tenantID: tenantID, sealer: context.sealer)
            receiver = DeviceReceiver(credentials: credentials, store: store, metrics: ReceiveMetrics())
        }
        guard let receiver else {
            logger.error("a stanza arrived for a device without paired credentials; it stays unanswered")
            return
        }
        let logger = logger
        let answers = await fenced(onFailure: receiver.metrics.commitFailed) { context in
            try await receiver.receive(node, now: context.now, logger: logger)
        }
        guard let answers, !answers.isEmpty else { return }
        do {
            try await session.send(answers)
        } catch {
            // The connection ended after the commit: the server delivers the stanza again, and the
            // inbox recognises it.
            logger.debug("answers not sent: the connection ended", metadata: ["error": "\(error)"])
            return
        }
        if node.tag == "receipt", node.attribute("type") == "retry" {
            await answerRetry(node, session: session, credentials: credentials)
        }
    }

    /// A peer could not decrypt a message we sent: it goes again, encrypted for that device alone,
    /// its session committed first (messaging.md §5.2). The receipt was acked already; a retry that
    /// cannot be answered now is not asked again by the peer, so failures are only logged.
    private func answerRetry(_ node: Node, session: any UpstreamSession, credentials: DeviceCredentials) async {
        guard let device = LocalDevice(credentials: credentials),
              let request = (try? IncomingReceipt(node, own: device.account))?.retry,
              let sender = DeviceSender(
            credentials: credentials,
            protocolStore: context.store.protocolStore(lease, tenantID: tenantID, sealer: context.sealer),
            outbox: context.store.outboxStore(lease, tenantID: tenantID, sealer: context.sealer)
        ) else { return }
        do {
            guard let (stanza, encrypted) = try await sender.resend(request, session: session) else { return }
            // A resend is an attempt too: recorded with its lease and connection before it is written.
            var attempt = encrypted
            attempt.sendingMessage = request.messageID
            attempt.sendingConnection = connectionAddress
            let changes = attempt
            guard await fenced({ _ in try await sender.protocolStore.commit(changes) }) != nil else { return }
            try await session.send([stanza])
        } catch {
            logger.notice("a retry receipt was not answered", metadata: ["id": "\(request.messageID)", "error": "\(error)"])
        }
    }

    // MARK: Sending

    /// Sends the oldest queued message when the device is online and no send awaits its ack
    /// (docs/messaging.md "Sending"): prepared (device lists, sessions, bundles, encryption), its
    /// advanced state committed with its attempt, then written. A message that cannot be sent is
    /// failed and the next one tried; an IQ or store failure leaves it queued for the next trigger
    /// (the next login, ack or queued message).
    private func drain(timers: inout Timers) async {
        while inFlight == nil, machine.state.kind == .online, let session, let credentials, !finished {
            if sender?.credentials != credentials {
                sender = DeviceSender(
                    credentials: credentials,
                    protocolStore: context.store.protocolStore(lease, tenantID: tenantID, sealer: context.sealer),
                    outbox: context.store.outboxStore(lease, tenantID: tenantID, sealer: context.sealer)
                )
            }
            guard let sender else { return }
            let now = context.now()
            let oldest = now.addingTimeInterval(-TimeInterval(context.configuration.maxQueueAge.components.seconds))
            guard let found = await fenced({ _ in try await sender.outbox.nextQueued(notBefore: oldest, now: now) }), let next = found else {
                return
            }
            if let wait = pacer.take(now: now) {
                context.metrics.pacingWaits.increment()
                scheduleOutboxWake(after: wait, timers: &timers)
                return
            }
            let prepared: DeviceSender.Prepared
            do {
                prepared = try await sender.prepare(next, session: session, now: now)
            } catch is LeaseLost {
                await loseLease()
                return
            } catch let error as ClientRequestError where error.errorCode == Self.rateOverLimit {
                // The server asks us to slow down: the message waits, nothing is dropped.
                context.metrics.rateOverLimit.increment()
                scheduleOutboxWake(after: pacer.overLimit(now: now), timers: &timers)
                return
            } catch {
                logger.notice("a queued message waits: preparing it failed", metadata: ["id": "\(next.messageID)", "error": "\(error)"])
                return
            }
            switch prepared {
            case .failed(let changes):
                guard await fenced({ _ in try await sender.protocolStore.commit(changes) }) != nil else { return }
                logger.notice("a queued message failed", metadata: [
                    "id": "\(next.messageID)", "reason": "\(changes.outboundStatuses.first?.failureReason ?? "-")",
                ])
            case .send(let stanza, let encrypted, let sent):
                var attempt = encrypted
                attempt.sendingConnection = connectionAddress
                let changes = attempt
                // The ratchet and sender-key state first: a resend after a crash never reuses a message key.
                guard await fenced({ _ in try await sender.protocolStore.commit(changes) }) != nil else { return }
                inFlight = InFlight(
                    messageID: next.messageID, sent: sent,
                    deadline: context.uptime() + context.configuration.sendAckTimeout
                )
                do {
                    try await session.send([stanza])
                } catch {
                    // The connection ended; `.disconnected` follows and the message goes again later.
                    inFlight = nil
                    return
                }
                armAckTimer(after: context.configuration.sendAckTimeout, timers: &timers)
            }
        }
    }

    /// The server's `<ack class="message">` (messaging.md §8.5): committed as `sent` (or failed),
    /// then the next queued message goes.
    private func acknowledged(_ node: Node, timers: inout Timers) async {
        guard let ack = try? ServerAck(node) else { return }
        let matching = inFlight?.messageID == ack.id ? inFlight : nil
        if ack.error == Self.rateOverLimit {
            // Not a failure: the message stays queued and goes again, slower.
            context.metrics.rateOverLimit.increment()
            if matching != nil { inFlight = nil }
            scheduleOutboxWake(after: pacer.overLimit(now: context.now()), timers: &timers)
            return
        }
        context.metrics.messageAcked(ack.isSuccess ? "sent" : "failed")
        let changes = DeviceSender.record(ack, sent: matching?.sent, now: context.now())
        let store = context.store.protocolStore(lease, tenantID: tenantID, sealer: context.sealer)
        guard await fenced({ _ in try await store.commit(changes) }) != nil else { return }
        if matching != nil {
            inFlight = nil
            await drain(timers: &timers)
        }
    }

    /// `rate-overlimit`, as an IQ's or an ack's error code.
    static let rateOverLimit = 429

    /// Rings `after` from now unless the timer already runs (it then rings earlier, and re-arms).
    private func armAckTimer(after delay: Duration, timers: inout Timers) {
        guard !ackTimerArmed else { return }
        ackTimerArmed = true
        let sleep = Self.sleeper(on: context.clock, until: delay)
        let mailbox = self.mailbox
        timers.add {
            do {
                try await sleep()
                mailbox.yield(.ackDeadline)
            } catch {}
        }
    }

    /// The ack deadline (docs/messaging.md, "The ack deadline"): a stanza the server has not acked
    /// within `sendAckTimeout` means a connection that no longer carries our writes (a half-open
    /// socket, a server that dropped the stanza), and the queue behind it would wait for the next
    /// disconnect. The connection is closed with a local `timeout` reason, so the device reconnects
    /// after its backoff and the message goes again with the same WhatsApp id (recipients drop a
    /// repeated id). The close's `.disconnected` clears `inFlight` as any disconnect does.
    private func checkAckDeadline(timers: inout Timers) async {
        guard let inFlight else { return }
        let now = context.uptime()
        guard now >= inFlight.deadline else {
            // Rang for an earlier message that was acked: wait for this one's deadline.
            armAckTimer(after: inFlight.deadline - now, timers: &timers)
            return
        }
        guard let session else { return }
        let seconds = context.configuration.sendAckTimeout.components.seconds
        logger.warning("no server ack for a sent message; closing the connection to send it again after the reconnect", metadata: [
            "id": "\(inFlight.messageID)", "timeout_seconds": "\(seconds)",
        ])
        // Not `closeSession`: the close's `.disconnected` is handled as any disconnect (recorded,
        // backoff, reconnect), under this connection's generation.
        await session.close(reason: DisconnectReason(
            stage: .local, category: .timeout, detail: "no server ack for message \(inFlight.messageID) within \(seconds) s"
        ))
    }

    /// Drains again after `seconds` (pacing); one wake at a time.
    private func scheduleOutboxWake(after seconds: TimeInterval, timers: inout Timers) {
        guard !outboxWakeScheduled else { return }
        outboxWakeScheduled = true
        let sleep = Self.sleeper(on: context.clock, until: .milliseconds(Int64((seconds * 1000).rounded(.up))))
        let mailbox = self.mailbox
        timers.add {
            do {
                try await sleep()
                mailbox.yield(.outboxReady)
            } catch {}
        }
    }

    private func issuedCode(expiresAt: Date, timers: inout Timers) async {
        if let pairing { try? await context.store.noteCodeIssued(pairingID: pairing.id, lease: lease, expiresAt: expiresAt) }
        await apply(.pairingCodeIssued, timers: &timers)
    }

    // MARK: Driving the state machine

    private func apply(_ event: DeviceEvent, timers: inout Timers) async {
        switch machine.handle(event, now: context.now(), random: &random) {
        case .rejected(let why):
            context.metrics.rejectedEvents.increment()
            logger.notice("rejected a device event", metadata: ["why": "\(why)"])
        case .updated:
            break
        case .applied(let actions):
            for action in actions where !finished {
                await perform(action, timers: &timers)
            }
            if !finished, machine.state.kind == .unpaired || machine.state.kind == .loggedOut {
                await finish()
            }
        }
    }

    private func perform(_ action: DeviceStateMachine.Action, timers: inout Timers) async {
        switch action {
        case .persist(let transition):
            await write { try await $0.store.recordTransition(self.lease, transition, instance: $0.configuration.instanceID) }
        case .connect(let intent):
            await connect(intent)
        case .closeConnection(let reason):
            await closeSession(reason)
        case .logoutUpstream:
            if let current = session {
                session = nil
                generation += 1
                do { try await current.logout() } catch {
                    logger.warning("could not unlink upstream during logout; credentials are wiped anyway", metadata: ["error": "\(error)"])
                    await current.close(reason: DeviceStateMachine.local("logout"))
                }
            }
        case .scheduleWake(let date):
            scheduleWake(at: date, timers: &timers)
        case .cancelWake:
            wakeToken += 1
        case .wipeCredentials:
            credentials = nil
            await write { try await $0.store.wipeCredentials(self.lease) }
        case .endPairing(let outcome, let detail):
            await endPairing(outcome, detail: detail)
        case .recordDisconnect(let reason, let decision):
            await write {
                try await $0.store.recordDisconnect(self.lease, reason: reason, decision: decision, instance: $0.configuration.instanceID)
            }
        }
    }

    /// The connection delivers its events straight into the mailbox: no task per connection.
    /// The device's own proxy is read afresh each time, so a change applies to the next connect.
    private func connect(_ intent: ConnectionIntent) async {
        guard !fence.isExpired else { return }
        guard let credentials else {
            send(.upstream(generation: generation, .disconnected(
                DisconnectReason(stage: .local, category: .loggedOut, detail: "no credentials to connect with")
            )))
            return
        }
        let proxy: ProxyConfiguration?
        do {
            proxy = try await DeviceProxy.load(deviceID: deviceID, store: context.store, sealer: context.sealer.tenant(tenantID))
        } catch {
            // Never around the device's proxy: that would show WhatsApp the gateway's own address.
            logger.warning("cannot read the device's proxy; not connecting", metadata: ["error": "\(error)"])
            send(.upstream(generation: generation, .disconnected(
                DisconnectReason(stage: .proxy, category: .network, detail: "the device's proxy setting could not be read")
            )))
            return
        }
        generation += 1
        let current = generation
        let mailbox = self.mailbox
        machine.webVersion = context.clientVersion.current
        let opened = context.connector.connect(credentials: credentials, intent: intent, proxy: proxy) { event in
            mailbox.yield(.upstream(generation: current, event))
        }
        guard fence.admit(opened) else {
            // The deadline passed while it was being opened.
            generation += 1
            await opened.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: "lease deadline passed"))
            return
        }
        session = opened
        context.metrics.connectionAttempt(intent)
        connectStartedAt = .now
    }

    private func closeSession(_ reason: DisconnectReason) async {
        guard let current = session else { return }
        session = nil
        generation += 1
        await current.close(reason: reason)
    }

    private func scheduleWake(at date: Date, timers: inout Timers) {
        wakeToken += 1
        let token = wakeToken
        let delay = Duration.seconds(max(0, date.timeIntervalSince(context.now())))
        // The deadline is fixed now, not when the task first runs: time that passes before the
        // task starts must not push the wake later (a test's manual clock made that visible).
        let sleep = Self.sleeper(on: context.clock, until: delay)
        let mailbox = self.mailbox
        timers.add {
            do {
                try await sleep()
                mailbox.yield(.wake(token: token))
            } catch {}
        }
    }

    private static func sleeper<C: Clock<Duration>>(on clock: C, until delay: Duration) -> @Sendable () async throws -> Void {
        let deadline = clock.now.advanced(by: delay)
        return { try await clock.sleep(until: deadline, tolerance: nil) }
    }

    private func endPairing(_ outcome: PairingOutcome, detail: String?) async {
        guard let pairing else { return }
        self.pairing = nil
        context.metrics.pairingEnded(outcome)
        context.metrics.pairingDuration(since: pairing.startedAt, now: context.now())
        do {
            try await context.store.endPairing(pairing.id, lease: lease, outcome: outcome, detail: detail)
        } catch {
            logger.error("could not close the pairing session; the sweeper ends it at its deadline", metadata: ["error": "\(error)"])
        }
        context.locks.release(pairing.claim)
        publish(.ended(outcome, detail: detail), of: pairing)
    }

    /// Tells every watcher of the running pairing, here and on other instances.
    private func publish(_ update: PairingUpdate) {
        if let pairing { publish(update, of: pairing) }
    }

    private func publish(_ update: PairingUpdate, of pairing: PairingContext) {
        context.events.publish(.pairing(PairingEvent(
            pairingID: pairing.id, tenantID: tenantID, deviceID: deviceID, deadline: pairing.deadline, update: update
        )))
    }

    // MARK: Persistence

    private func saveCredentials(_ value: DeviceCredentials) async -> Bool {
        do {
            let sealed = try context.sealer.tenant(tenantID).seal(encoding: value, deviceID: deviceID, kind: PoolContext.credentialKind)
            return await write { try await $0.store.saveCredentials(self.lease, kind: PoolContext.credentialKind, sealed: sealed) }
        } catch {
            logger.error("could not seal credentials", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// A fenced write, retried while the database is unreachable for a few seconds; a lost lease
    /// stops the device at once.
    @discardableResult
    private func write(_ body: @Sendable (PoolContext) async throws -> Void) async -> Bool {
        await fenced(body) != nil
    }

    /// `body`'s result, retried while the database is unreachable for a few seconds (`onFailure`
    /// counts each failed try); nil when the lease was lost or the database stayed down, and the
    /// device was stopped.
    private func fenced<T: Sendable>(
        onFailure: () -> Void = {}, _ body: @Sendable (PoolContext) async throws -> T
    ) async -> T? {
        var delay = Duration.milliseconds(200)
        for attempt in 1...6 {
            // Past the lease's deadline, or given up at shutdown: the device writes nothing more.
            if fence.isExpired || Task.isCancelled {
                await loseLease()
                return nil
            }
            do {
                return try await body(context)
            } catch is LeaseLost {
                await loseLease()
                return nil
            } catch {
                onFailure()
                if attempt == 6 || Task.isCancelled {
                    logger.error("a device write failed repeatedly; stopping the device here", metadata: ["error": "\(error)"])
                    await loseLease()
                    return nil
                }
                try? await context.clock.sleep(for: delay)
                delay *= 2
            }
        }
        return nil
    }

    private func loseLease() async {
        guard !finished else { return }
        await closeSession(DisconnectReason(stage: .local, category: .shutdown, detail: "lease lost"))
        if let pairing {
            self.pairing = nil
            context.locks.release(pairing.claim)
            publish(.ended(.interrupted, detail: "this instance lost the device's lease"), of: pairing)
        }
        finished = true
    }

    /// The device leaves this process in good order: connection closed, lease released.
    private func finish() async {
        guard !finished else { return }
        await closeSession(DeviceStateMachine.local("device leaves this instance"))
        if let pairing {
            self.pairing = nil
            context.locks.release(pairing.claim)
            publish(.ended(.interrupted, detail: nil), of: pairing)
        }
        finished = true
        try? await context.store.releaseLease(lease)
    }
}
