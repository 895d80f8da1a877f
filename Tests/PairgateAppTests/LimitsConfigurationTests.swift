import AdminAPI
import Foundation
import PairgateTestSupport
@testable import PairgateApp
import Testing

@Suite("Configuration: limits, tenant re-checks and history retention")
struct LimitsConfigurationTests {
    @Test func theLimitsAndTheRetentionReachTheGateway() async throws {
        let configuration = try await PairgateConfiguration.load(file: nil, overrides: [:], environment: [
            "PAIRGATE_HTTP_MAX_CONNECTIONS": "512", "PAIRGATE_HTTP_RESET_CONCURRENCY": "4",
            "PAIRGATE_HTTP_SSE_MAX_PER_PAIRING": "2", "PAIRGATE_HTTP_SSE_MAX_PER_TENANT": "3", "PAIRGATE_HTTP_SSE_MAX_PER_INSTANCE": "100",
            "PAIRGATE_FLEET_TENANT_RECHECK_SECONDS": "15",
            "PAIRGATE_HISTORY_RETENTION_DAYS": "30", "PAIRGATE_HISTORY_SWEEP_INTERVAL_MINUTES": "5", "PAIRGATE_HISTORY_SWEEP_BATCH_SIZE": "200",
            "PAIRGATE_HTTP_LINK_KEY": Data(repeating: 1, count: 32).base64EncodedString(),
        ])
        let gateway = try ServeCommand.gatewayConfiguration(configuration, logger: TestDatabase.logger)
        #expect(gateway.maximumConnections == 512)
        #expect(gateway.tenantRecheckInterval == .seconds(15))
        #expect(gateway.history.age == .seconds(30 * 86_400))
        #expect(gateway.history.interval == .seconds(300))
        #expect(gateway.history.batchSize == 200)
        #expect(gateway.api.resetConcurrency == 4)
        #expect(gateway.api.streamsPerPairing == 2)
        #expect(gateway.api.streamsPerTenant == 3)
        #expect(gateway.api.streamsPerInstance == 100)
    }

    @Test func aRetentionOfZeroDaysKeepsHistoryForever() async throws {
        let configuration = try await PairgateConfiguration.load(file: nil, overrides: [:], environment: [
            "PAIRGATE_HISTORY_RETENTION_DAYS": "0", "PAIRGATE_HTTP_LINK_KEY": Data(repeating: 1, count: 32).base64EncodedString(),
        ])
        #expect(try ServeCommand.gatewayConfiguration(configuration, logger: TestDatabase.logger).history.age == nil)
        let error = await #expect(throws: ConfigurationError.self) {
            try await PairgateConfiguration.load(file: nil, overrides: [:], environment: ["PAIRGATE_HTTP_MAX_CONNECTIONS": "0"])
        }
        #expect(error?.key == "http.max_connections")
    }
}
