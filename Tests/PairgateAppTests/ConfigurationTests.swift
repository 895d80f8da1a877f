import Foundation
import PairgateApp
import PostgresClient
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    private func write(_ json: String) throws -> String {
        let path = NSTemporaryDirectory() + "pairgate-config-\(UUID().uuidString).json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func flagsOverrideEnvironmentWhichOverridesTheFile() async throws {
        let file = try write(#"{"http": {"host": "0.0.0.0", "port": 9000}, "database": {"url": "postgresql://file/db", "pool_size": 3}}"#)
        let fromFile = try await PairgateConfiguration.load(file: file, overrides: [:], environment: [:])
        #expect(fromFile.http.port == 9000)
        #expect(fromFile.http.host == "0.0.0.0")
        #expect(fromFile.database?.url == "postgresql://file/db")
        #expect(fromFile.database?.maximumConnections == 3)

        let env = ["PAIRGATE_HTTP_PORT": "9100", "PAIRGATE_DATABASE_URL": "postgresql://env/db", "PAIRGATE_DATABASE_POOL_SIZE": "7"]
        let fromEnv = try await PairgateConfiguration.load(file: file, overrides: [:], environment: env)
        #expect(fromEnv.http.port == 9100)
        #expect(fromEnv.database?.url == "postgresql://env/db")
        #expect(fromEnv.database?.maximumConnections == 7)

        let fromFlags = try await PairgateConfiguration.load(file: file, overrides: ["http.port": "9200"], environment: env)
        #expect(fromFlags.http.port == 9200)
        #expect(fromFlags.http.host == "0.0.0.0")
    }

    @Test func messageRetentionIsReadInDaysAndZeroKeepsForever() async throws {
        let file = try write(#"{"messages": {"retention_days": 7}}"#)
        #expect(try await PairgateConfiguration.load(file: file, overrides: [:], environment: [:]).messageRetentionDays == 7)
        let none = try await PairgateConfiguration.load(file: nil, overrides: [:], environment: ["PAIRGATE_MESSAGES_RETENTION_DAYS": "0"])
        #expect(none.messageRetentionDays == 0)
        await #expect(throws: ConfigurationError.self) {
            _ = try await PairgateConfiguration.load(file: nil, overrides: ["messages.retention_days": "-1"], environment: [:])
        }
        #expect(try await PairgateConfiguration.load(file: nil, overrides: [:], environment: [:]).messageRetentionDays == 30)
    }

    @Test func theHeapTrimIntervalDefaultsToHalfAMinuteAndZeroTurnsItOff() async throws {
        #expect(try await PairgateConfiguration.load(file: nil, overrides: [:], environment: [:]).heapTrimIntervalSeconds == 30)
        let off = try await PairgateConfiguration.load(file: nil, overrides: [:], environment: ["PAIRGATE_POOL_HEAP_TRIM_INTERVAL_SECONDS": "0"])
        #expect(off.heapTrimIntervalSeconds == 0)
        await #expect(throws: ConfigurationError.self) {
            _ = try await PairgateConfiguration.load(file: nil, overrides: ["pool.heap_trim_interval_seconds": "3601"], environment: [:])
        }
    }

    @Test func theMaximumQueueAgeDefaultsToADayAndIsBounded() async throws {
        #expect(try await PairgateConfiguration.load(file: nil, overrides: [:], environment: [:]).maxQueueAgeSeconds == 86_400)
        let hour = try await PairgateConfiguration.load(file: nil, overrides: [:], environment: ["PAIRGATE_MESSAGES_MAX_QUEUE_AGE_SECONDS": "3600"])
        #expect(hour.maxQueueAgeSeconds == 3600)
        await #expect(throws: ConfigurationError.self) {
            _ = try await PairgateConfiguration.load(file: nil, overrides: ["messages.max_queue_age_seconds": "0"], environment: [:])
        }
    }

    @Test func webhookSettingsComeFromTheFileAndTheEnvironment() async throws {
        let file = try write(#"{"webhooks": {"allow_private": true, "retry_base_seconds": 2, "retention_hours": 24}}"#)
        let defaults = try await PairgateConfiguration.load(file: try write("{}"), overrides: [:], environment: [:]).webhooks
        #expect(!defaults.allowPrivate)
        #expect((defaults.retryBaseSeconds, defaults.retryCapSeconds, defaults.retryWindowHours, defaults.claimSeconds) == (10, 3600, 24, 60))
        let environment = [
            "PAIRGATE_WEBHOOKS_CONCURRENCY": "8", "PAIRGATE_WEBHOOKS_RESPONSE_TIMEOUT_SECONDS": "5", "PAIRGATE_WEBHOOKS_CLAIM_SECONDS": "10",
            "PAIRGATE_WEBHOOKS_MAX_ENDPOINTS_PER_TENANT": "3", "PAIRGATE_WEBHOOKS_DISABLE_AFTER_HOURS": "48",
        ]
        let webhooks = try await PairgateConfiguration.load(file: file, overrides: [:], environment: environment).webhooks
        #expect(webhooks.allowPrivate)
        #expect((webhooks.retryBaseSeconds, webhooks.retentionHours, webhooks.concurrency, webhooks.responseTimeoutSeconds) == (2, 24, 8, 5))
        #expect((webhooks.claimSeconds, webhooks.maxEndpointsPerTenant, webhooks.disableAfterHours) == (10, 3, 48))
        let fromEnvironment = try await PairgateConfiguration.load(file: try write("{}"), overrides: [:], environment: ["PAIRGATE_WEBHOOKS_ALLOW_PRIVATE": "true"])
        #expect(fromEnvironment.webhooks.allowPrivate)
        for (environment, key) in [
            (["PAIRGATE_WEBHOOKS_ALLOW_PRIVATE": "maybe"], "webhooks.allow_private"),
            (["PAIRGATE_WEBHOOKS_CLAIM_SECONDS": "15"], "webhooks.claim_seconds"),
            (["PAIRGATE_WEBHOOKS_RETRY_BASE_SECONDS": "0"], "webhooks.retry_base_seconds"),
            (["PAIRGATE_WEBHOOKS_RETRY_BASE_SECONDS": "600", "PAIRGATE_WEBHOOKS_RETRY_CAP_SECONDS": "60"], "webhooks.retry_cap_seconds"),
        ] {
            let error = await #expect(throws: ConfigurationError.self) {
                try await PairgateConfiguration.load(file: try write("{}"), overrides: [:], environment: environment)
            }
            #expect(error?.key == key)
        }
    }

    @Test func missingDatabaseURLIsAClearStartupError() async throws {
        let file = try write(#"{"http": {"port": 8080}}"#)
        let configuration = try await PairgateConfiguration.load(file: file, overrides: [:], environment: [:])
        let error = #expect(throws: ConfigurationError.self) { try configuration.requireDatabase() }
        #expect(error?.key == "database.url")
        #expect(error.map { $0.description.contains("PAIRGATE_DATABASE_URL") } == true)
    }

    @Test func malformedValuesNameTheirKeyInsteadOfFallingBackToDefaults() async throws {
        let file = try write("{}")
        let cases: [([String: String], String)] = [
            (["PAIRGATE_HTTP_PORT": "eighty"], "http.port"),
            (["PAIRGATE_HTTP_PORT": "70000"], "http.port"),
            (["PAIRGATE_LOG_LEVEL": "loud"], "log.level"),
            (["PAIRGATE_DATABASE_URL": "postgresql://x", "PAIRGATE_DATABASE_POOL_SIZE": "0"], "database.pool_size"),
        ]
        for (environment, key) in cases {
            let error = await #expect(throws: ConfigurationError.self) {
                try await PairgateConfiguration.load(file: file, overrides: [:], environment: environment)
            }
            #expect(error?.key == key)
        }
        let wrongType = try write(#"{"http": {"port": "eighty"}}"#)
        let error = await #expect(throws: ConfigurationError.self) {
            try await PairgateConfiguration.load(file: wrongType, overrides: [:], environment: [:])
        }
        #expect(error?.key == "http.port")
    }

    @Test func aNamedFileMustExistAndParse() async throws {
        await #expect(throws: ConfigurationError.self) {
            try await PairgateConfiguration.load(file: "/nonexistent/pairgate.json", overrides: [:], environment: [:])
        }
        let broken = try write("{ not json")
        await #expect(throws: ConfigurationError.self) {
            try await PairgateConfiguration.load(file: broken, overrides: [:], environment: [:])
        }
    }

    @Test func secretsNeverAppearInErrors() async throws {
        let file = try write("{}")
        let secret = "postgresql://user:s3cr3t-pw@db/x"
        let error = await #expect(throws: ConfigurationError.self) {
            try await PairgateConfiguration.load(
                file: file, overrides: [:],
                environment: ["PAIRGATE_DATABASE_URL": secret, "PAIRGATE_DATABASE_POOL_SIZE": "many"]
            )
        }
        #expect(error.map { !$0.description.contains("s3cr3t") } == true)
    }

    @Test func databaseTimeoutsKeepalivesAndTheStatementCacheAreConfigurable() async throws {
        let file = try write("{}")
        let url = ["PAIRGATE_DATABASE_URL": "postgresql://x"]
        let defaults = try #require(try await PairgateConfiguration.load(file: file, overrides: [:], environment: url).database)
        #expect(defaults.keepalive == PostgresConfiguration.TCPKeepalive())
        #expect(defaults.tcpUserTimeout == .seconds(5))
        #expect(defaults.responseTimeout == nil)
        #expect(defaults.preparedStatementCacheSize == 256)

        let tuned = try #require(try await PairgateConfiguration.load(file: file, overrides: [:], environment: url.merging([
            "PAIRGATE_DATABASE_KEEPALIVE_IDLE_SECONDS": "7", "PAIRGATE_DATABASE_KEEPALIVE_INTERVAL_SECONDS": "2",
            "PAIRGATE_DATABASE_KEEPALIVE_COUNT": "4", "PAIRGATE_DATABASE_TCP_USER_TIMEOUT_MS": "2500",
            "PAIRGATE_DATABASE_RESPONSE_TIMEOUT_SECONDS": "9", "PAIRGATE_DATABASE_PREPARED_STATEMENT_CACHE_SIZE": "0",
        ]) { $1 }).database)
        #expect(tuned.keepalive?.idle == .seconds(7))
        #expect(tuned.keepalive?.interval == .seconds(2))
        #expect(tuned.keepalive?.count == 4)
        #expect(tuned.tcpUserTimeout == .milliseconds(2500))
        #expect(tuned.responseTimeout == .seconds(9))
        #expect(tuned.preparedStatementCacheSize == 0)

        let off = try #require(try await PairgateConfiguration.load(file: file, overrides: [:], environment: url.merging([
            "PAIRGATE_DATABASE_KEEPALIVE_IDLE_SECONDS": "0", "PAIRGATE_DATABASE_TCP_USER_TIMEOUT_MS": "0",
        ]) { $1 }).database)
        #expect(off.keepalive == nil)
        #expect(off.tcpUserTimeout == nil)

        for (key, value) in [("PAIRGATE_DATABASE_KEEPALIVE_COUNT", "0"), ("PAIRGATE_DATABASE_RESPONSE_TIMEOUT_SECONDS", "0")] {
            let error = await #expect(throws: ConfigurationError.self) {
                try await PairgateConfiguration.load(file: file, overrides: [:], environment: url.merging([key: value]) { $1 })
            }
            #expect(error?.key == key.dropFirst("PAIRGATE_".count).lowercased().replacingOccurrences(of: "database_", with: "database."))
        }
    }

    @Test func theFleetPoolShutdownAndVersionChecksAreConfigurable() async throws {
        let defaults = try await PairgateConfiguration.load(
            file: try write("{}"), overrides: [:], environment: ["PAIRGATE_DATABASE_URL": "postgresql://env/db"]
        )
        let fleet = try defaults.requireFleetDatabase()
        #expect(fleet.url == "postgresql://env/db")
        #expect(fleet.maximumConnections == 4)
        #expect(fleet.statementTimeout == .seconds(5))
        #expect(fleet.responseTimeout == nil)
        #expect(fleet.acquireTimeout == .seconds(5))
        #expect(defaults.closeGraceSeconds == 2)
        #expect(defaults.shutdownTimeoutSeconds == 10)
        #expect(defaults.http.maxPendingLookups == 4)
        #expect(defaults.upstream.versionURL == "https://web.whatsapp.com/sw.js")
        #expect(defaults.upstream.versionCheckIntervalSeconds == 3600)

        let set = try await PairgateConfiguration.load(file: try write("{}"), overrides: [:], environment: [
            "PAIRGATE_DATABASE_URL": "postgresql://env/db", "PAIRGATE_DATABASE_FLEET_POOL_SIZE": "6",
            "PAIRGATE_DATABASE_FLEET_STATEMENT_TIMEOUT_SECONDS": "3", "PAIRGATE_DATABASE_FLEET_RESPONSE_TIMEOUT_SECONDS": "4",
            "PAIRGATE_DATABASE_CLOSE_GRACE_SECONDS": "1", "PAIRGATE_POOL_SHUTDOWN_TIMEOUT_SECONDS": "20",
            "PAIRGATE_HTTP_MAX_PENDING_LOOKUPS": "8", "PAIRGATE_UPSTREAM_VERSION_URL": "http://mirror.internal/sw.js",
            "PAIRGATE_UPSTREAM_VERSION_CHECK_INTERVAL_SECONDS": "0", "PAIRGATE_UPSTREAM_VERSION_CHECK_TIMEOUT_SECONDS": "5",
        ])
        let setFleet = try set.requireFleetDatabase()
        #expect(setFleet.maximumConnections == 6)
        #expect(setFleet.statementTimeout == .seconds(3))
        #expect(setFleet.responseTimeout == .seconds(4))
        #expect(set.closeGraceSeconds == 1)
        #expect(set.shutdownTimeoutSeconds == 20)
        #expect(set.http.maxPendingLookups == 8)
        #expect(set.upstream.versionURL == "http://mirror.internal/sw.js")
        #expect(set.upstream.versionCheckIntervalSeconds == 0)
        #expect(set.upstream.versionCheckTimeoutSeconds == 5)

        let refused = await #expect(throws: ConfigurationError.self) {
            _ = try await PairgateConfiguration.load(file: try write("{}"), overrides: [:], environment: ["PAIRGATE_UPSTREAM_VERSION_URL": "ftp://x"])
        }
        #expect(refused?.key == "upstream.version_url")
    }

    @Test func theShippedConfigurationFileParses() async throws {
        let file = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config/pairgate.json").path
        let configuration = try await PairgateConfiguration.load(file: file, overrides: [:], environment: [:])
        #expect(configuration.http.port == 8080)
        #expect(configuration.http.host == "127.0.0.1")
    }
}

@Suite("Configuration of the HTTP API")
struct APIConfigurationTests {
    @Test func apiSettingsComeFromTheFileAndTheEnvironment() async throws {
        let path = NSTemporaryDirectory() + "pairgate-config-\(UUID().uuidString).json"
        try #"{"http": {"trusted_proxies": ["10.0.0.0/8", "::1"], "pair_burst": 5}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let key = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let configuration = try await PairgateConfiguration.load(file: path, overrides: [:], environment: [
            "PAIRGATE_ADMIN_TOKEN": "an-admin-token-long-enough", "PAIRGATE_HTTP_LINK_KEY": key,
            "PAIRGATE_HTTP_PAIR_RATE_PER_MINUTE": "12", "PAIRGATE_HTTP_SSE_HEARTBEAT_SECONDS": "5",
        ])
        #expect(configuration.http.trustedProxies == ["10.0.0.0/8", "::1"])
        #expect(configuration.http.pairBurst == 5)
        #expect(configuration.http.pairRatePerMinute == 12)
        #expect(configuration.http.heartbeatSeconds == 5)
        #expect(configuration.http.linkKey == (0..<32).map { UInt8($0) })
        #expect(configuration.adminToken == "an-admin-token-long-enough")
        let fromEnvironment = try await PairgateConfiguration.load(file: path, overrides: [:], environment: [
            "PAIRGATE_HTTP_TRUSTED_PROXIES": "192.168.0.0/16, 127.0.0.1",
        ])
        #expect(fromEnvironment.http.trustedProxies == ["192.168.0.0/16", "127.0.0.1"])
    }

    @Test func malformedAPISettingsNameTheirKey() async throws {
        let path = NSTemporaryDirectory() + "pairgate-config-\(UUID().uuidString).json"
        try "{}".write(toFile: path, atomically: true, encoding: .utf8)
        let cases: [([String: String], String)] = [
            (["PAIRGATE_HTTP_TRUSTED_PROXIES": "10.0.0.0/40"], "http.trusted_proxies"),
            (["PAIRGATE_HTTP_LINK_KEY": "c2hvcnQ="], "http.link_key"),
            (["PAIRGATE_ADMIN_TOKEN": "short"], "admin.token"),
            (["PAIRGATE_HTTP_PAIR_BURST": "0"], "http.pair_burst"),
            (["PAIRGATE_UPSTREAM_WEB_VERSION": "two"], "upstream.web_version"),
        ]
        for (environment, key) in cases {
            let error = await #expect(throws: ConfigurationError.self) {
                try await PairgateConfiguration.load(file: path, overrides: [:], environment: environment)
            }
            #expect(error?.key == key)
            #expect(error.map { !$0.description.contains("short") || key != "admin.token" } == true)
        }
    }
}
