import Foundation
import Hummingbird
import PostgresClient

/// Whether the gateway can serve: the database answers and the schema is this build's.
public struct Readiness: Sendable {
    public enum Outcome: Sendable, Equatable {
        case ready
        case notReady(code: String, detail: String)
    }

    let migrator: Migrator

    public init(migrator: Migrator) {
        self.migrator = migrator
    }

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
        } catch let error as PostgresError {
            return .notReady(code: "database_unavailable", detail: error.description)
        } catch {
            return .notReady(code: "database_unavailable", detail: "the database check failed")
        }
    }
}
