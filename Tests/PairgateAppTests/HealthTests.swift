@testable import AdminAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import PairgateTestSupport
import PostgresClient
import PostgresStore
import Testing

@Suite("Health and readiness over HTTP", .requiresDatabase)
struct HealthTests {
    /// The gateway's operational routes, served alone; a readiness answer is reused until
    /// `clock` moves past its interval.
    private func application(pool: PostgresPool, clock: ManualClock) throws -> some ApplicationProtocol {
        let migrator = try PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger)
        let router = Router()
        OperationsController(
            readiness: Readiness(migrator: migrator, logger: TestDatabase.logger), devices: PostgresDeviceStore(pool: pool), metrics: nil,
            clientVersion: { "2.3000.1045649367" }, now: { clock.date }
        ).addRoutes(to: router)
        return Application(router: router)
    }

    @Test func readyOnlyOnceTheSchemaIsCurrent() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let clock = ManualClock()
            try await application(pool: pool, clock: clock).test(.live) { client in
                try await client.execute(uri: "/healthz", method: .get) { response in
                    #expect(response.status == .ok)
                }
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let problem = try JSONDecoder().decode(Problem.self, from: Data(String(buffer: response.body).utf8))
                    #expect(problem.code == "schema_not_current")
                    #expect(problem.status == 503)
                }
                try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
                clock.advance(by: OperationsController.readinessInterval)
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .ok)
                }
            }
            await pool.close()
        }
    }

    @Test func notReadyWithAReasonWhilePostgresIsStopped() async throws {
        let cluster = try await TemporaryCluster.start()
        let pool = PostgresPool(configuration: .init(url: cluster.url), threadPool: TestDatabase.threadPool, logger: TestDatabase.logger)
        try await PairgateSchema.migrator(pool: pool, logger: TestDatabase.logger).migrate()
        let clock = ManualClock()
        try await application(pool: pool, clock: clock).test(.live) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await cluster.stop()
            clock.advance(by: OperationsController.readinessInterval)
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let problem = try JSONDecoder().decode(Problem.self, from: Data(String(buffer: response.body).utf8))
                #expect(problem.code == "database_unavailable")
                // Said in words for anyone: libpq's (host, port, user) go to the log.
                #expect(problem.detail?.contains("cannot be reached") == true)
                #expect(problem.detail?.contains("connection to server") == false)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await cluster.start()
            clock.advance(by: OperationsController.readinessInterval)
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
        await pool.close()
    }
}
