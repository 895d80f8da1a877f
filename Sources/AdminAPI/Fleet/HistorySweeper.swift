import Foundation
import Logging
import PostgresStore
import ServiceLifecycle

/// How long `state_transitions` and `disconnects` rows are kept, and how they are swept.
public struct HistoryRetention: Sendable {
    /// Rows older than this are deleted (`history.retention_days`, 90); nil keeps them forever.
    public var age: Duration? = .seconds(90 * 86400)
    /// How often an instance sweeps (`history.sweep_interval_minutes`, 60).
    public var interval: Duration = .seconds(3600)
    /// Rows per table deleted in one statement (`history.sweep_batch_size`, 1000): short
    /// transactions, so a sweep never holds many locks or a long snapshot.
    public var batchSize = 1000

    public init() {}
}

/// Deletes history older than the retention, on every instance: at start, then every interval,
/// in batches until a batch comes back short. Instances sweeping at once skip each other's rows
/// (`PostgresDeviceStore.deleteHistory`), so the work is shared, never waited for. Each device
/// keeps its newest disconnect. A Service: it sweeps until shutdown.
final class HistorySweeper: Service, Sendable {
    private let retention: HistoryRetention
    private let store: PostgresDeviceStore
    private let clock: any Clock<Duration>
    private let logger: Logger

    init(_ retention: HistoryRetention, store: PostgresDeviceStore, clock: any Clock<Duration>, logger: Logger) {
        self.retention = retention
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    func run() async throws {
        guard let age = retention.age else {
            // Nothing to sweep; a service that returns early would end the whole gateway.
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            repeat {
                await self.sweep(olderThan: age)
            } while (try? await self.clock.sleep(for: self.retention.interval)) != nil
        }
    }

    private func sweep(olderThan age: Duration) async {
        var total = HistorySweep(transitions: 0, disconnects: 0)
        do {
            while !Task.isCancelled {
                let batch = try await store.deleteHistory(olderThan: age, batchSize: retention.batchSize)
                total.transitions += batch.transitions
                total.disconnects += batch.disconnects
                if batch.transitions < retention.batchSize && batch.disconnects < retention.batchSize { break }
            }
        } catch {
            logger.warning("sweeping old history failed", metadata: ["error": "\(error)"])
        }
        if total.deleted > 0 {
            logger.info("deleted old history", metadata: ["transitions": "\(total.transitions)", "disconnects": "\(total.disconnects)"])
        }
    }
}
