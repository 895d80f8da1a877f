import Foundation
import Hummingbird
import Logging
import PostgresClient

/// Whether the gateway can serve: the database answers and the schema is this build's.
public struct Readiness: Sendable {
    public enum Outcome: Sendable, Equatable {
        case ready
        case notReady(code: String, detail: String)
    }

    let migrator: Migrator
    let logger: Logger

    public init(migrator: Migrator, logger: Logger) {
        self.migrator = migrator
        self.logger = logger
    }

    /// The outcome, worded for anyone: /readyz is public, so libpq's own text (host, port, user,
    /// why authentication failed) goes to the log, never into the answer.
    public func check() async -> Outcome {
        do {
            let status = try await migrator.status()
            if !status.edited.isEmpty {
                return .notReady(code: "schema_edited", detail: "applied migrations were edited: \(status.edited.joined(separator: ", "))")
            }
            if !status.pending.isEmpty {
                return .notReady(code: "schema_not_current", detail: "pending migrations: \(status.pending.map(String.init).joined(separator: ", ")); run pairgate migrate")
            }
            return .ready
        } catch {
            logger.warning("not ready: the database check failed", metadata: ["error": "\(error)"])
            return .notReady(code: "database_unavailable", detail: "the database cannot be reached; the gateway's log says why")
        }
    }
}
