import DevicePool
import Foundation
import Logging
import PostgresClient
import PostgresStore
import ServiceLifecycle
import Synchronization

/// The instances' conversation over PostgreSQL LISTEN/NOTIFY (one channel, `pairgate_fleet`):
/// pairing updates for watchers on other instances, resets routed to a device's owner, and
/// cache invalidation after admin changes. A Service: it listens until shutdown.
public final class FleetBus: Service, Sendable {
    private let pool: PostgresPool
    private let listener: PostgresListener
    private let supervisor: Supervisor
    private let relay: PairingRelay
    private let directory: TenantDirectory
    private let instanceID: String
    private let logger: Logger
    private let pendingResets = Mutex<[UUID: AsyncStream<ResetReply.Outcome>.Continuation]>([:])
    private let listeningState = Mutex<(listening: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    private let incoming: AsyncStream<FleetMessage>
    private let incomingSink: AsyncStream<FleetMessage>.Continuation

    public init(
        pool: PostgresPool, database: PostgresConfiguration, supervisor: Supervisor, relay: PairingRelay,
        directory: TenantDirectory, logger: Logger
    ) throws {
        self.pool = pool
        listener = try PostgresListener(configuration: database, channels: [FleetMessage.channel], logger: logger)
        self.supervisor = supervisor
        self.relay = relay
        self.directory = directory
        instanceID = supervisor.configuration.instanceID
        self.logger = logger
        (incoming, incomingSink) = AsyncStream.makeStream(of: FleetMessage.self)
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.listener.run() }
            group.addTask { await self.sendOutgoing() }
            group.addTask { await self.handleIncoming() }
            await cancelWhenGracefulShutdown {
                for await event in self.listener.events {
                    switch event {
                    case .listening:
                        // Notifications sent while we were not listening are lost: start over.
                        self.directory.invalidate()
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
                        self.incomingSink.yield(message)
                    }
                }
            }
            incomingSink.finish()
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

    /// Local feed updates and requests, sent one at a time so their order holds.
    private func sendOutgoing() async {
        for await message in relay.outgoing {
            await publish(message)
        }
    }

    func publish(_ message: FleetMessage) async {
        do {
            let payload = String(decoding: try JSONEncoder().encode(message), as: UTF8.self)
            try await pool.notify(channel: FleetMessage.channel, payload: payload)
        } catch {
            logger.warning("could not send a fleet message", metadata: ["error": "\(error)"])
        }
    }

    private func handleIncoming() async {
        await withDiscardingTaskGroup { group in
            for await message in incoming {
                switch message {
                case .pairing(let notice):
                    relay.receive(notice)
                case .replay(let pairingID):
                    guard let feed = supervisor.pairingFeed(pairingID) else { continue }
                    let (latest, outcome) = feed.current
                    for update in [latest, outcome].compactMap({ $0 }) {
                        relay.observe(feed, update)
                    }
                case .reset(let request) where request.to == instanceID:
                    // A reset may take a while (upstream logout); the next message need not wait.
                    group.addTask { await self.perform(request) }
                case .resetResult(let reply) where reply.to == instanceID:
                    pendingResets.withLock { $0[reply.id] }?.yield(reply.outcome)
                case .tenancyChanged:
                    directory.invalidate()
                    group.addTask { await self.stopDisabledTenantsDevices() }
                case .reset, .resetResult:
                    break
                }
            }
        }
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

    private func perform(_ request: ResetRequest) async {
        let outcome: ResetReply.Outcome
        do {
            outcome = switch try await supervisor.reset(deviceID: request.deviceID, mode: request.mode) {
            case .applied(let state): .applied(state: state.kind.rawValue)
            case .unchanged(let state): .unchanged(state: state.kind.rawValue)
            }
        } catch let error as SupervisorError {
            outcome = .failed(code: error.code.rawValue)
        } catch {
            outcome = .failed(code: "internal")
        }
        await publish(.resetResult(ResetReply(id: request.id, to: request.from, outcome: outcome)))
    }

    /// Asks `owner` to reset a device and waits for its answer at most `timeout`; nil when none came.
    func forwardReset(deviceID: UUID, mode: ResetMode, owner: String, timeout: Duration) async -> ResetReply.Outcome? {
        let id = UUID()
        let (answers, sink) = AsyncStream.makeStream(of: ResetReply.Outcome.self)
        pendingResets.withLock { $0[id] = sink }
        relay.send(.reset(ResetRequest(id: id, from: instanceID, to: owner, deviceID: deviceID, mode: mode)))
        return await withTaskGroup(of: ResetReply.Outcome?.self) { group in
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

    /// Tells every instance (this one included) that tenants, hosts or tokens changed.
    func announceTenancyChange() {
        directory.invalidate()
        relay.send(.tenancyChanged)
    }
}
