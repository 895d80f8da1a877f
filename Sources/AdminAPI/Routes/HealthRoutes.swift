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

/// Liveness and readiness for orchestrators and load balancers.
public struct HealthRoutes: Sendable {
    let readiness: Readiness

    public init(readiness: Readiness) {
        self.readiness = readiness
    }

    /// A router with only these two routes (the gateway adds them to its own).
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in liveness() }
        router.get("/readyz") { _, _ in await self.readinessResponse() }
        return router
    }

    func liveness() -> Response {
        jsonResponse(.ok, #"{"status":"ok"}"#)
    }

    func readinessResponse() async -> Response {
        switch await readiness.check() {
        case .ready:
            return jsonResponse(.ok, #"{"status":"ready"}"#)
        case .notReady(let code, let detail):
            return Problem(status: .serviceUnavailable, code: code, title: "Not ready", detail: detail).response()
        }
    }
}
