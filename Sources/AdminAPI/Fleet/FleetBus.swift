import DevicePool
import Foundation
import Logging
import PostgresClient
import PostgresStore
import ServiceLifecycle
import Synchronization

/// The instances' conversation over PostgreSQL LISTEN/NOTIFY (one channel, `pairgate_fleet`): it
/// carries the events published on this instance's `EventBus` to the other instances' buses,
/// and its own messages — replay requests, resets routed to a device's owner and their answers,
/// tenancy changes. An instance ignores its own notifications: it acted on them when it sent
/// them. A Service: it listens until shutdown. A disabled tenant's devices are looked for on the
/// news, and also whenever LISTEN is (re-)established and every `recheckInterval`: news sent
/// while nobody listened is lost, and a lost one must not leave them running.
public final class FleetBus: Service, Sendable {
    private let pool: PostgresPool
    private let listener: PostgresListener
    private let supervisor: Supervisor
    private let events: EventBus
    private let directory: TenantDirectory
    private let instanceID: String
    private let logger: Logger
    /// This bus's own messages, sent in order.
    private let outbox: AsyncStream<FleetMessage.Body>
    private let outboxSink: AsyncStream<FleetMessage.Body>.Continuation
    /// Messages to act on: other instances', and the tenancy changes made here.
    private let inbox: AsyncStream<FleetMessage>
    private let inboxSink: AsyncStream<FleetMessage>.Continuation
    private let pendingResets = Mutex<[UUID: AsyncStream<ResetOutcome>.Continuation]>([:])
    private let recheckInterval: Duration
    private let clock: any Clock<Duration>
    private let listeningState = Mutex<(listening: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Listens with `pool`'s configuration on a connection of its own; checks for devices of
    /// disabled tenants every `recheckInterval` on `clock`.
    public init(
        pool: PostgresPool, supervisor: Supervisor, events: EventBus, directory: TenantDirectory,
        recheckInterval: Duration = .seconds(60), clock: any Clock<Duration> = ContinuousClock(), logger: Logger
    ) throws {
        self.pool = pool
        self.recheckInterval = recheckInterval
        self.clock = clock
        listener = try PostgresListener(configuration: pool.configuration, channels: [FleetMessage.channel], logger: logger)
        self.supervisor = supervisor
        self.events = events
        self.directory = directory
        instanceID = supervisor.configuration.instanceID
        self.logger = logger
        (outbox, outboxSink) = AsyncStream.makeStream(of: FleetMessage.Body.self, bufferingPolicy: .bufferingNewest(10_000))
        (inbox, inboxSink) = AsyncStream.makeStream(of: FleetMessage.self)
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.listener.run() }
            group.addTask {
                for await event in self.events.outbound { await self.send(.event(event)) }
            }
            group.addTask {
                for await body in self.outbox { await self.send(body) }
            }
            group.addTask { await self.handleInbox() }
            group.addTask {
                for await _ in self.supervisor.handoverSignals { await self.sendHandovers() }
            }
            group.addTask {
                while (try? await self.clock.sleep(for: self.recheckInterval)) != nil {
                    await self.stopDisabledTenantsDevices()
                }
            }
            await cancelWhenGracefulShutdown {
                for await event in self.listener.events {
                    switch event {
                    case .listening:
                        // Notifications sent while we were not listening are lost: start over, as
                        // after a tenancy change we did not hear of.
                        self.inboxSink.yield(FleetMessage(from: self.instanceID, body: .tenancyChanged))
                        let waiters = self.listeningState.withLock { state in
                            state.listening = true
                            defer { state.waiters = [] }
                            return state.waiters
                        }
                        waiters.forEach { $0.resume() }
                    case .notification(let notification):
                        guard let message = try? JSONDecoder().decode(FleetMessage.self, from: Data(notification.payload.utf8)) else {
                            self.logger.warning("ignored a malformed fleet message")
                            continue
                        }
                        if message.from != self.instanceID { self.inboxSink.yield(message) }
                    }
                }
            }
            // The pool shut down before the bus: devices it released last are announced now.
            await sendHandovers()
            inboxSink.finish()
            group.cancelAll()
        }
    }

    /// Returns once LISTEN is established (messages sent before that are not heard here).
    public func listening() async {
        await withCheckedContinuation { continuation in
            let ready = listeningState.withLock { state in
                if !state.listening { state.waiters.append(continuation) }
                return state.listening
            }
            if ready { continuation.resume() }
        }
    }

    /// A message was queued for `deviceID`: this instance's actor sends it if it holds the device,
    /// otherwise the instance that does is told. A lost notification delays the message until the
    /// device's next login or ack, never loses it (the row is the truth).
    public func outboxReady(deviceID: UUID) async {
        if !supervisor.outboxReady(deviceID: deviceID) {
            await send(.outboxReady(deviceID: deviceID))
        }
    }

    private func send(_ body: FleetMessage.Body) async {
        do {
            try await pool.notify(channel: FleetMessage.channel, payload: try FleetMessage(from: instanceID, body: body).payload())
        } catch {
            logger.warning("could not send a fleet message", metadata: ["error": "\(error)"])
        }
    }

    private func handleInbox() async {
        await withDiscardingTaskGroup { group in
            for await message in inbox {
                switch message.body {
                case .event(let event):
                    events.receive(event)
                case .replay(let pairingID):
                    events.republish(pairingID: pairingID)
                case .reset(let request) where request.to == instanceID:
                    // A reset may take a while (upstream logout); the next message need not wait.
                    group.addTask { await self.perform(request, for: message.from) }
                case .resetResult(let reply) where reply.to == instanceID:
                    pendingResets.withLock { $0[reply.id] }?.yield(reply.outcome)
                case .tenancyChanged:
                    directory.invalidate()
                    group.addTask { await self.stopDisabledTenantsDevices() }
                case .clientVersion(let version):
                    supervisor.useClientVersion(version)
                case .outboxReady(let deviceID):
                    supervisor.outboxReady(deviceID: deviceID)
                case .handover(let handover) where handover.to == instanceID:
                    group.addTask { await self.supervisor.takeOver(handover.devices) }
                case .drain(let instance) where instance == instanceID:
                    group.addTask { await self.supervisor.drain() }
                case .reset, .resetResult, .handover, .drain:
                    break
                }
            }
        }
    }

    /// Tells each new owner which devices the pool released for it, in messages of at most
    /// `handoverBatch` devices (NOTIFY's payload limit).
    private func sendHandovers() async {
        for handover in supervisor.takeHandovers() {
            for start in stride(from: 0, to: handover.devices.count, by: Self.handoverBatch) {
                let devices = Array(handover.devices[start..<min(start + Self.handoverBatch, handover.devices.count)])
                await send(.handover(Handover(to: handover.to, devices: devices)))
            }
        }
    }

    /// 150 ids are about 6 KB of JSON, under NOTIFY's 8,000 bytes.
    static let handoverBatch = 150

    /// Asks instance `instance` to hand every device to its peers, from any process that reaches
    /// the database (`pairgate drain`).
    public static func requestDrain(of instance: String, pool: PostgresPool) async throws {
        try await pool.notify(channel: FleetMessage.channel, payload: try FleetMessage(from: "pairgate-drain", body: .drain(instance: instance)).payload())
    }

    /// A disabled tenant gets no connections: this instance stops the ones it runs (they stay
    /// paired, and are claimed again once the tenant is enabled).
    private func stopDisabledTenantsDevices() async {
        do {
            for deviceID in try await PostgresDeviceStore(pool: pool).devicesOfDisabledTenants(owner: instanceID) {
                if supervisor.stop(deviceID: deviceID) {
                    logger.notice("stopped a device of a disabled tenant", metadata: ["device": "\(deviceID.uuidString.lowercased())"])
                }
            }
        } catch {
            logger.warning("could not look for devices of disabled tenants", metadata: ["error": "\(error)"])
        }
    }

    private func perform(_ request: ResetRequest, for asker: String) async {
        let outcome = await DeviceResets.here(request.deviceID, command: request.mode, supervisor: supervisor, logger: logger)
        outboxSink.yield(.resetResult(ResetReply(id: request.id, to: asker, outcome: outcome)))
    }

    /// Asks `owner` to reset or stop a device and waits for its answer at most `timeout`; nil when none came.
    func forward(_ command: DeviceCommand, deviceID: UUID, owner: String, timeout: Duration) async -> ResetOutcome? {
        let id = UUID()
        let (answers, sink) = AsyncStream.makeStream(of: ResetOutcome.self)
        pendingResets.withLock { $0[id] = sink }
        outboxSink.yield(.reset(ResetRequest(id: id, to: owner, deviceID: deviceID, mode: command)))
        return await withTaskGroup(of: ResetOutcome?.self) { group in
            group.addTask {
                for await answer in answers { return answer }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            pendingResets.withLock { $0.removeValue(forKey: id) }?.finish()
            group.cancelAll()
            return first
        }
    }

    /// Asks a pairing's owner, wherever it is, to send what the pairing showed so far again.
    func requestReplay(_ pairingID: UUID) {
        outboxSink.yield(.replay(pairingID: pairingID))
    }

    /// The fleet's WhatsApp Web version changed (this instance uses it already).
    func announceClientVersion(_ version: String) {
        outboxSink.yield(.clientVersion(version))
    }

    /// Tenants, hosts or tokens changed: this instance acts at once, every other one when it
    /// hears the news.
    func announceTenancyChange() {
        directory.invalidate()
        inboxSink.yield(FleetMessage(from: instanceID, body: .tenancyChanged))
        outboxSink.yield(.tenancyChanged)
    }
}
