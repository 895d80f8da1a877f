import DevicePool
import Foundation
import Logging
import Metrics
import PostgresStore
import ServiceLifecycle
import Synchronization
import WAWire

/// The WhatsApp Web version of the whole fleet (docs/operations.md, "The WhatsApp Web version").
/// It is stored in PostgreSQL (`settings`); every instance announces it on its new connections
/// (`Supervisor.useClientVersion`). At start the configured version is stored when none is, or
/// when it is newer; then the source is checked at start and every `checkInterval`, and at once
/// when WhatsApp refuses the version in use (405) — a newer version found is stored, used here
/// and announced to the other instances (FleetBus), which also read the stored one again every
/// `reread`. An operator sets one by hand (`PUT /admin/client-version`). A Service.
public final class ClientVersionKeeper: Service, Sendable {
    public struct Configuration: Sendable {
        /// Where the current version is read; nil never checks (the stored version is used as is).
        public var source: WebVersionSource?
        public var checkInterval: Duration = .seconds(3600)
        /// How often the stored version is read again: a lost notification costs at most this.
        public var reread: Duration = .seconds(60)
        /// A 405 checks at once, but not more often than this (a fleet hits 405 all at once).
        public var outdatedCheckSpacing: Duration = .seconds(60)

        public init(source: WebVersionSource? = nil) {
            self.source = source
        }
    }

    /// How the last check of the source ended.
    public struct Check: Sendable, Hashable {
        public enum Result: String, Sendable {
            case updated, unchanged, failed
        }

        public var at: Date
        public var result: Result
        /// The version found, or why none was.
        public var detail: String
    }

    private struct CheckState {
        var running = false
        var lastStarted: Date?
        var last: Check?
    }

    private let configuration: Configuration
    private let settings: SettingsStore
    private let supervisor: Supervisor
    private let fleet: FleetBus
    private let clock: any Clock<Duration>
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let checks = Mutex(CheckState())

    init(
        configuration: Configuration, settings: SettingsStore, supervisor: Supervisor, fleet: FleetBus,
        clock: any Clock<Duration>, now: @escaping @Sendable () -> Date, logger: Logger
    ) {
        self.configuration = configuration
        self.settings = settings
        self.supervisor = supervisor
        self.fleet = fleet
        self.clock = clock
        self.now = now
        self.logger = logger
    }

    private var instanceID: String { supervisor.configuration.instanceID }

    /// Reads the stored version, storing the configured one first when none is stored or the
    /// configured one is newer, and uses it here. Run it before devices connect; when the
    /// database does not answer, the configured version stays in use.
    public func prepare() async {
        let configured = supervisor.configuration.webVersion
        do {
            let stored = try await settings.offerClientVersion(configured, source: .configuration, by: instanceID)
            use(stored.version, announce: false)
            logger.info("WhatsApp Web version in use", metadata: ["version": "\(stored.version)", "source": "\(stored.source.rawValue)"])
        } catch {
            logger.warning("could not read the stored WhatsApp Web version; using the configured one", metadata: [
                "version": "\(configured)", "error": "\(error)",
            ])
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.rereadPeriodically() }
                guard self.configuration.source != nil else { return }
                group.addTask { await self.checkPeriodically() }
                group.addTask { await self.checkWhenOutdated() }
            }
        }
    }

    /// What is stored now.
    public func stored() async throws -> StoredClientVersion? {
        try await settings.clientVersion()
    }

    /// How this instance's last check ended (nil: none yet, or checks are off).
    public var lastCheck: Check? {
        checks.withLock { $0.last }
    }

    /// An operator's choice, stored whatever was stored (also an older version) and used fleet-wide.
    public func set(_ version: String) async throws -> StoredClientVersion {
        let stored = try await settings.setClientVersion(version, source: .admin, by: instanceID)
        logger.notice("WhatsApp Web version set by an operator", metadata: ["version": "\(stored.version)"])
        use(stored.version, announce: true)
        return stored
    }

    /// Looks for the current version at the source now (unless a check runs already).
    public func check() async {
        guard let source = configuration.source else { return }
        let started = now()
        let admitted = checks.withLock { state in
            guard !state.running else { return false }
            state.running = true
            state.lastStarted = started
            return true
        }
        guard admitted else { return }
        let outcome: Check
        do {
            let found = try await source.fetch()
            let stored = try await settings.offerClientVersion(found, source: .check, by: instanceID)
            let changed = stored.version != supervisor.clientVersion
            outcome = Check(at: now(), result: changed ? .updated : .unchanged, detail: found)
            if changed {
                logger.notice("a newer WhatsApp Web version is in use", metadata: ["version": "\(stored.version)", "found": "\(found)"])
                use(stored.version, announce: true)
            }
        } catch {
            outcome = Check(at: now(), result: .failed, detail: "\(error)")
            logger.warning("could not check the current WhatsApp Web version; keeping the one in use", metadata: [
                "version": "\(supervisor.clientVersion)", "error": "\(error)",
            ])
        }
        Counter(label: "pairgate_client_version_checks_total", dimensions: [("result", outcome.result.rawValue)]).increment()
        checks.withLock { state in
            state.running = false
            state.last = outcome
        }
    }

    private func use(_ version: String, announce: Bool) {
        supervisor.useClientVersion(version)
        if announce { fleet.announceClientVersion(version) }
    }

    private func checkPeriodically() async {
        while !Task.isCancelled {
            await check()
            do { try await clock.sleep(for: configuration.checkInterval) } catch { return }
        }
    }

    /// Devices report the version WhatsApp refused: when it is the one in use, a newer one is
    /// looked for at once, once per `outdatedCheckSpacing` at most.
    private func checkWhenOutdated() async {
        for await refused in supervisor.outdatedVersions {
            guard refused == supervisor.clientVersion else { continue }
            let current = now()
            let due = checks.withLock { state in
                state.lastStarted.map { current.timeIntervalSince($0) >= configuration.outdatedCheckSpacing.seconds } ?? true
            }
            if due {
                logger.notice("WhatsApp refused the version in use as outdated; checking for a newer one", metadata: ["version": "\(refused)"])
                await check()
            }
        }
    }

    private func rereadPeriodically() async {
        while !Task.isCancelled {
            do { try await clock.sleep(for: configuration.reread) } catch { return }
            do {
                if let stored = try await settings.clientVersion(), stored.version != supervisor.clientVersion {
                    use(stored.version, announce: false)
                }
            } catch {
                logger.debug("could not read the stored WhatsApp Web version again", metadata: ["error": "\(error)"])
            }
        }
    }
}
