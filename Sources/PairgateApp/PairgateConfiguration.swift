import AdminAPI
import Configuration
import DevicePool
import Foundation
import Logging
import PostgresClient
import SystemPackage
import WAClient
import WAWire

/// Everything the gateway reads at startup, resolved from (highest first) command-line flags,
/// `PAIRGATE_*` environment variables, and the JSON configuration file.
public struct PairgateConfiguration: Sendable {
    public struct HTTP: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        /// IPs or CIDR ranges whose X-Forwarded-Host / X-Forwarded-Proto are believed.
        public var trustedProxies: [String] = []
        /// base64 of at least 32 bytes; signs pairing-page links. Secret. Nil: a random key per
        /// process (links then work only on the instance that made them).
        public var linkKey: [UInt8]?
        public var pairRatePerMinute = 6
        public var pairBurst = 3
        public var firstCodeWaitMilliseconds = 5000
        public var requestTimeoutSeconds = 30
        public var heartbeatSeconds = 15
        public var tenantCacheSeconds = 5
        /// A tenant's rendered GET /status is reused this long (0 = read the database every time).
        public var statusCacheMilliseconds = 1000
        /// Connections idle this long are closed (slow or stalled clients).
        public var idleTimeoutSeconds = 75
        /// Lookups of hosts and tokens not in the cache running at once; more get 503 `overloaded`.
        public var maxPendingLookups = 4
        /// Connections open at once; more wait in the kernel's accept queue.
        public var maxConnections = 4096
        /// Devices POST /reset {"all":true} resets at once.
        public var resetConcurrency = 8
        /// Event streams open at once per pairing, per tenant and on the instance.
        public var sseMaxPerPairing = 10
        public var sseMaxPerTenant = 50
        public var sseMaxPerInstance = 2000
    }

    /// The pool of fleet control (leases, device writes, pairings, the fleet bus), apart from
    /// the HTTP requests' pool (`database.pool_size`), with its own, shorter timeouts.
    public struct FleetDatabase: Sendable {
        public var poolSize = 4
        public var statementTimeoutSeconds = 5
        /// nil: the statement timeout + 2 s.
        public var responseTimeoutSeconds: Int?
    }

    /// How long history rows are kept (`history.*`).
    public struct History: Sendable {
        /// 0 keeps them forever.
        public var retentionDays = 90
        public var sweepIntervalMinutes = 60
        public var sweepBatchSize = 1000
    }

    /// nil when no URL is configured; commands that need the database refuse to start.
    public var database: PostgresConfiguration?
    public var fleetDatabase = FleetDatabase()
    /// How long running statements get when the pools close (`database.close_grace_seconds`).
    public var closeGraceSeconds = 2
    /// How long devices get to close in good order at shutdown (`pool.shutdown_timeout_seconds`).
    public var shutdownTimeoutSeconds = 10
    /// How often freed heap pages go back to the kernel (`pool.heap_trim_interval_seconds`; 0: never).
    public var heapTrimIntervalSeconds = 30
    /// Rebalancing across instances (`pool.max_devices`, `pool.rebalance_interval_seconds`,
    /// `pool.handovers_per_minute`, `pool.handover_max_percent`).
    public var rebalancing = Rebalancing()

    /// `pool.*` keys of scale-out (docs/configuration.md, docs/operations.md).
    public struct Rebalancing: Sendable {
        /// This instance's capacity: its weight in the fair share and the most devices it runs.
        public var maxDevices = 10_000
        public var intervalSeconds = 5
        /// 0 turns rebalancing off.
        public var handoversPerMinute = 600
        /// The most of an instance's devices being handed over at once, in percent.
        public var maxPercent = 10
    }
    public var http = HTTP()
    public var history = History()
    /// How often an instance looks for devices of disabled tenants it still runs (`fleet.tenant_recheck_seconds`).
    public var tenantRecheckSeconds = 60
    public var logLevel: Logger.Level = .info
    /// The master key that seals device credentials, `id:base64(32 bytes)` (secret).
    public var masterKey: String?
    /// Keys that sealed credentials before a rotation; they still open, never seal.
    public var previousMasterKeys: [String] = []
    /// This process's name in leases, pairings and history rows.
    public var instanceID: String
    /// The admin API's bearer token (`admin.token`). Secret. Nil: the admin API is closed.
    public var adminToken: String?
    /// Where devices connect: WhatsApp, or a `pairgate sim`.
    public var upstream = Upstream()
    /// Device starts per second at boot and on takeovers (`pool.ramp_per_second`); nil: the
    /// pool's default (`PoolConfiguration.rampPerSecond`).
    public var rampPerSecond: Int?
    /// Days a stored message is kept (`messages.retention_days`); 0 keeps messages forever.
    public var messageRetentionDays = 30
    /// Seconds a queued outbound message may wait before it fails `expired` (`messages.max_queue_age_seconds`).
    public var maxQueueAgeSeconds = 86_400
    /// Messages one device sends per minute (`messages.send_rate_per_minute`); 0 turns pacing off.
    public var sendRatePerMinute = 20
    /// Messages a device may send at once after a quiet spell (`messages.send_burst`).
    public var sendBurst = 5
    /// Seconds a sent message may wait for the server's ack before its connection is taken as broken
    /// and reconnected (`messages.send_ack_timeout_seconds`).
    public var sendAckTimeoutSeconds = 75
    /// Messages one tenant may queue in 24 hours (`messages.tenant_daily_quota`); 0 is unlimited.
    public var tenantDailyQuota = 0
    /// Webhook delivery (`webhooks.*`).
    public var webhooks = Webhooks()

    /// `webhooks.*` (docs/configuration.md, docs/webhooks.md).
    public struct Webhooks: Sendable {
        /// Let receivers be on loopback, private or link-local addresses (tests, on-premises).
        public var allowPrivate = false
        /// Deliveries in flight per instance.
        public var concurrency = 32
        /// Attempts in flight per endpoint.
        public var perEndpointConcurrency = 4
        public var connectTimeoutSeconds = 5
        /// The whole attempt, DNS to the end of the capped response body.
        public var responseTimeoutSeconds = 15
        /// How long a claimed delivery stays one worker's; more than the response timeout.
        public var claimSeconds = 60
        public var retryBaseSeconds = 10
        public var retryCapSeconds = 3600
        public var retryWindowHours = 24
        public var retryAfterCapSeconds = 3600
        public var disableAfterHours = 24
        /// How long delivered and failed deliveries and their events are kept (replay reaches this far).
        public var retentionHours = 72
        public var maxEndpointsPerTenant = 10
    }

    public struct Upstream: Sendable {
        /// `ws://` or `wss://`.
        public var url = "wss://web.whatsapp.com/ws/chat"
        /// The key that must sign the server's certificate chain; nil: WhatsApp's.
        public var rootKey: [UInt8]?
        /// PEM trust roots for `wss://` (a simulator's generated CA); nil: the system's.
        public var caFile: String?
        /// `http://user:pass@host:port` or `socks5://…` for every device connection.
        public var proxy: String?
        /// The WhatsApp Web version stored for the fleet when none is, or when this one is newer
        /// (docs/operations.md, "The WhatsApp Web version").
        public var webVersion = WebClientVersion.pinned.description
        /// Where the current version is read (WhatsApp Web's service worker).
        public var versionURL = "https://web.whatsapp.com/sw.js"
        /// How often it is read; 0 never (nor on a 405).
        public var versionCheckIntervalSeconds = 3600
        public var versionCheckTimeoutSeconds = 15
    }

    /// The credential sealer from the configured master keys, or a startup error.
    public func requireSealer() throws -> CredentialSealer {
        guard let masterKey else {
            throw ConfigurationError(
                key: "credentials.master_key",
                problem: "is required: set PAIRGATE_CREDENTIALS_MASTER_KEY (generate one with `pairgate keys generate`)"
            )
        }
        do {
            return CredentialSealer(
                current: try MasterKey(parsing: masterKey),
                previous: try previousMasterKeys.map { try MasterKey(parsing: $0) }
            )
        } catch {
            throw ConfigurationError(key: "credentials.master_key", problem: "or a previous key is malformed: \(error)")
        }
    }

    /// The fleet-control pool's settings: the database's, with the fleet pool's size and timeouts.
    public func requireFleetDatabase() throws -> PostgresConfiguration {
        var fleet = try requireDatabase()
        fleet.maximumConnections = fleetDatabase.poolSize
        fleet.statementTimeout = .seconds(fleetDatabase.statementTimeoutSeconds)
        fleet.responseTimeout = fleetDatabase.responseTimeoutSeconds.map { .seconds($0) }
        // A renewal waiting for a connection must fail well inside the 10 s between two renewals.
        fleet.acquireTimeout = .seconds(5)
        fleet.applicationName = "pairgate-fleet"
        return fleet
    }

    /// The database settings, or a startup error saying how to provide them.
    public func requireDatabase() throws -> PostgresConfiguration {
        guard let database else {
            throw ConfigurationError(
                key: "database.url",
                problem: "is required: set PAIRGATE_DATABASE_URL, database.url in the configuration file, or --database-url"
            )
        }
        return database
    }
}

/// A missing or malformed setting, named by its key; the message never includes secret values.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var problem: String
    public var description: String { "configuration: \(key) \(problem)" }
}

extension PairgateConfiguration {
    /// The configuration file used when none is named and it exists.
    public static let defaultFile = "config/pairgate.json"

    /// Resolves the configuration. `file` names a file that must exist; without it the default
    /// file is read if present. `overrides` are dotted keys from command-line flags.
    public static func load(
        file: String?,
        overrides: [String: String],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> PairgateConfiguration {
        let path = file ?? environment["PAIRGATE_CONFIG"]
        let fileProvider: FileProvider<JSONSnapshot>
        do {
            fileProvider = try await FileProvider<JSONSnapshot>(
                filePath: .init(path ?? defaultFile),
                allowMissing: path == nil
            )
        } catch {
            throw ConfigurationError(key: "file", problem: "\(path ?? defaultFile) cannot be read as JSON: \(error)")
        }
        let flags = InMemoryProvider(
            name: "flags",
            values: Dictionary(uniqueKeysWithValues: overrides.map { key, value in
                (AbsoluteConfigKey(ConfigKey(key)), ConfigValue(.string(value), isSecret: key == "database.url"))
            })
        )
        let env = EnvironmentVariablesProvider(
            environmentVariables: environment,
            secretsSpecifier: .specific([
                "PAIRGATE_DATABASE_URL", "PAIRGATE_ADMIN_TOKEN", "PAIRGATE_CREDENTIALS_MASTER_KEY", "PAIRGATE_CREDENTIALS_PREVIOUS_KEYS",
                "PAIRGATE_HTTP_LINK_KEY", "PAIRGATE_UPSTREAM_PROXY",
            ])
        ).prefixKeys(with: "pairgate")
        return try resolve(ConfigReader(providers: [flags, env, fileProvider]), environment: environment)
    }

    static func resolve(_ reader: ConfigReader, environment: [String: String]) throws -> PairgateConfiguration {
        let settings = Settings(reader: reader)
        var configuration = PairgateConfiguration(
            instanceID: try settings.string("instance.id") ?? defaultInstanceID(environment: environment)
        )
        if let url = try settings.string("database.url", secret: true) {
            var database = PostgresConfiguration(url: url)
            database.maximumConnections = try settings.int("database.pool_size", in: 1...500) ?? database.maximumConnections
            if let seconds = try settings.int("database.connect_timeout_seconds", in: 1...300) {
                database.connectTimeout = .seconds(seconds)
            }
            if let seconds = try settings.int("database.statement_timeout_seconds", in: 0...3600) {
                database.statementTimeout = seconds == 0 ? nil : .seconds(seconds)
            }
            if let seconds = try settings.int("database.response_timeout_seconds", in: 1...3600) {
                database.responseTimeout = .seconds(seconds)
            }
            try resolveKeepalive(settings, into: &database)
            if let millis = try settings.int("database.tcp_user_timeout_ms", in: 0...3_600_000) {
                database.tcpUserTimeout = millis == 0 ? nil : .milliseconds(millis)
            }
            database.preparedStatementCacheSize = try settings.int("database.prepared_statement_cache_size", in: 0...10_000)
                ?? database.preparedStatementCacheSize
            configuration.database = database
        }
        try resolveFleetDatabase(settings, into: &configuration)
        configuration.masterKey = try settings.string("credentials.master_key", secret: true)
        if let previous = try settings.string("credentials.previous_keys", secret: true) {
            configuration.previousMasterKeys = previous.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        configuration.http.host = try settings.string("http.host") ?? configuration.http.host
        configuration.http.port = try settings.int("http.port", in: 0...65535) ?? configuration.http.port
        try resolveHTTP(settings, into: &configuration.http)
        configuration.adminToken = try settings.string("admin.token", secret: true)
        if let token = configuration.adminToken, token.count < 16 {
            throw ConfigurationError(key: "admin.token", problem: "must be at least 16 characters")
        }
        try resolveUpstream(settings, into: &configuration.upstream)
        configuration.rampPerSecond = try settings.int("pool.ramp_per_second", in: 1...100_000)
        configuration.messageRetentionDays = try settings.int("messages.retention_days", in: 0...36_500)
            ?? configuration.messageRetentionDays
        configuration.maxQueueAgeSeconds = try settings.int("messages.max_queue_age_seconds", in: 60...2_592_000)
            ?? configuration.maxQueueAgeSeconds
        configuration.sendRatePerMinute = try settings.int("messages.send_rate_per_minute", in: 0...60_000)
            ?? configuration.sendRatePerMinute
        configuration.sendBurst = try settings.int("messages.send_burst", in: 1...10_000) ?? configuration.sendBurst
        configuration.sendAckTimeoutSeconds = try settings.int("messages.send_ack_timeout_seconds", in: 5...3600)
            ?? configuration.sendAckTimeoutSeconds
        configuration.tenantDailyQuota = try settings.int("messages.tenant_daily_quota", in: 0...100_000_000)
            ?? configuration.tenantDailyQuota
        try resolveWebhooks(settings, into: &configuration.webhooks)
        configuration.shutdownTimeoutSeconds = try settings.int("pool.shutdown_timeout_seconds", in: 1...600) ?? configuration.shutdownTimeoutSeconds
        configuration.heapTrimIntervalSeconds = try settings.int("pool.heap_trim_interval_seconds", in: 0...3600)
            ?? configuration.heapTrimIntervalSeconds
        configuration.rebalancing.maxDevices = try settings.int("pool.max_devices", in: 1...1_000_000) ?? configuration.rebalancing.maxDevices
        configuration.rebalancing.intervalSeconds = try settings.int("pool.rebalance_interval_seconds", in: 1...3600)
            ?? configuration.rebalancing.intervalSeconds
        configuration.rebalancing.handoversPerMinute = try settings.int("pool.handovers_per_minute", in: 0...1_000_000)
            ?? configuration.rebalancing.handoversPerMinute
        configuration.rebalancing.maxPercent = try settings.int("pool.handover_max_percent", in: 1...100) ?? configuration.rebalancing.maxPercent
        configuration.tenantRecheckSeconds = try settings.int("fleet.tenant_recheck_seconds", in: 1...86_400) ?? configuration.tenantRecheckSeconds
        configuration.history.retentionDays = try settings.int("history.retention_days", in: 0...36_500) ?? configuration.history.retentionDays
        configuration.history.sweepIntervalMinutes = try settings.int("history.sweep_interval_minutes", in: 1...10_080)
            ?? configuration.history.sweepIntervalMinutes
        configuration.history.sweepBatchSize = try settings.int("history.sweep_batch_size", in: 1...100_000) ?? configuration.history.sweepBatchSize
        if let level = try settings.string("log.level") {
            guard let parsed = Logger.Level(rawValue: level) else {
                throw ConfigurationError(key: "log.level", problem: "must be one of trace, debug, info, notice, warning, error, critical (got \(level))")
            }
            configuration.logLevel = parsed
        }
        return configuration
    }

    /// `database.fleet_*` and `database.close_grace_seconds`.
    private static func resolveFleetDatabase(_ settings: Settings, into configuration: inout PairgateConfiguration) throws {
        var fleet = configuration.fleetDatabase
        fleet.poolSize = try settings.int("database.fleet_pool_size", in: 1...500) ?? fleet.poolSize
        fleet.statementTimeoutSeconds = try settings.int("database.fleet_statement_timeout_seconds", in: 1...60) ?? fleet.statementTimeoutSeconds
        fleet.responseTimeoutSeconds = try settings.int("database.fleet_response_timeout_seconds", in: 1...120)
        configuration.fleetDatabase = fleet
        configuration.closeGraceSeconds = try settings.int("database.close_grace_seconds", in: 0...60) ?? configuration.closeGraceSeconds
    }

    /// `database.keepalive_*`: idle 0 turns TCP keepalives off.
    private static func resolveKeepalive(_ settings: Settings, into database: inout PostgresConfiguration) throws {
        var keepalive = database.keepalive ?? PostgresConfiguration.TCPKeepalive()
        if let seconds = try settings.int("database.keepalive_idle_seconds", in: 0...7200) {
            guard seconds > 0 else {
                database.keepalive = nil
                return
            }
            keepalive.idle = .seconds(seconds)
        }
        if let seconds = try settings.int("database.keepalive_interval_seconds", in: 1...600) {
            keepalive.interval = .seconds(seconds)
        }
        keepalive.count = try settings.int("database.keepalive_count", in: 1...100) ?? keepalive.count
        database.keepalive = keepalive
    }

    private static func resolveHTTP(_ settings: Settings, into http: inout HTTP) throws {
        if let list = settings.reader.stringArray(forKey: ConfigKey("http.trusted_proxies")) {
            http.trustedProxies = list
        } else if let text = try settings.string("http.trusted_proxies") {
            http.trustedProxies = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        do {
            _ = try TrustedProxies(parsing: http.trustedProxies)
        } catch {
            throw ConfigurationError(key: "http.trusted_proxies", problem: "has an entry that \(error)")
        }
        if let text = try settings.string("http.link_key", secret: true) {
            guard let key = Data(base64Encoded: text), key.count >= 32 else {
                throw ConfigurationError(key: "http.link_key", problem: "must be base64 of at least 32 bytes (openssl rand -base64 32)")
            }
            http.linkKey = Array(key)
        }
        http.pairRatePerMinute = try settings.int("http.pair_rate_per_minute", in: 0...100_000) ?? http.pairRatePerMinute
        http.pairBurst = try settings.int("http.pair_burst", in: 1...10_000) ?? http.pairBurst
        http.firstCodeWaitMilliseconds = try settings.int("http.first_code_wait_ms", in: 0...60_000) ?? http.firstCodeWaitMilliseconds
        http.requestTimeoutSeconds = try settings.int("http.request_timeout_seconds", in: 1...3600) ?? http.requestTimeoutSeconds
        http.heartbeatSeconds = try settings.int("http.sse_heartbeat_seconds", in: 1...300) ?? http.heartbeatSeconds
        http.tenantCacheSeconds = try settings.int("http.tenant_cache_seconds", in: 0...300) ?? http.tenantCacheSeconds
        http.idleTimeoutSeconds = try settings.int("http.idle_timeout_seconds", in: 1...3600) ?? http.idleTimeoutSeconds
        http.statusCacheMilliseconds = try settings.int("http.status_cache_ms", in: 0...60_000) ?? http.statusCacheMilliseconds
        http.maxPendingLookups = try settings.int("http.max_pending_lookups", in: 1...1000) ?? http.maxPendingLookups
        http.maxConnections = try settings.int("http.max_connections", in: 1...1_000_000) ?? http.maxConnections
        http.resetConcurrency = try settings.int("http.reset_concurrency", in: 1...1000) ?? http.resetConcurrency
        http.sseMaxPerPairing = try settings.int("http.sse_max_per_pairing", in: 1...100_000) ?? http.sseMaxPerPairing
        http.sseMaxPerTenant = try settings.int("http.sse_max_per_tenant", in: 1...1_000_000) ?? http.sseMaxPerTenant
        http.sseMaxPerInstance = try settings.int("http.sse_max_per_instance", in: 1...1_000_000) ?? http.sseMaxPerInstance
    }

    private static func resolveWebhooks(_ settings: Settings, into webhooks: inout Webhooks) throws {
        webhooks.allowPrivate = try settings.bool("webhooks.allow_private") ?? webhooks.allowPrivate
        webhooks.concurrency = try settings.int("webhooks.concurrency", in: 1...10_000) ?? webhooks.concurrency
        webhooks.perEndpointConcurrency = try settings.int("webhooks.per_endpoint_concurrency", in: 1...1000) ?? webhooks.perEndpointConcurrency
        webhooks.connectTimeoutSeconds = try settings.int("webhooks.connect_timeout_seconds", in: 1...60) ?? webhooks.connectTimeoutSeconds
        webhooks.responseTimeoutSeconds = try settings.int("webhooks.response_timeout_seconds", in: 1...300) ?? webhooks.responseTimeoutSeconds
        webhooks.claimSeconds = try settings.int("webhooks.claim_seconds", in: 2...3600) ?? webhooks.claimSeconds
        webhooks.retryBaseSeconds = try settings.int("webhooks.retry_base_seconds", in: 1...86_400) ?? webhooks.retryBaseSeconds
        webhooks.retryCapSeconds = try settings.int("webhooks.retry_cap_seconds", in: 1...86_400) ?? webhooks.retryCapSeconds
        webhooks.retryWindowHours = try settings.int("webhooks.retry_window_hours", in: 1...720) ?? webhooks.retryWindowHours
        webhooks.retryAfterCapSeconds = try settings.int("webhooks.retry_after_cap_seconds", in: 0...86_400) ?? webhooks.retryAfterCapSeconds
        webhooks.disableAfterHours = try settings.int("webhooks.disable_after_hours", in: 1...720) ?? webhooks.disableAfterHours
        webhooks.retentionHours = try settings.int("webhooks.retention_hours", in: 1...8760) ?? webhooks.retentionHours
        webhooks.maxEndpointsPerTenant = try settings.int("webhooks.max_endpoints_per_tenant", in: 1...1000) ?? webhooks.maxEndpointsPerTenant
        guard webhooks.claimSeconds > webhooks.responseTimeoutSeconds else {
            throw ConfigurationError(
                key: "webhooks.claim_seconds",
                problem: "must be longer than webhooks.response_timeout_seconds (\(webhooks.responseTimeoutSeconds)), or a slow receiver gets two attempts at once"
            )
        }
        guard webhooks.retryCapSeconds >= webhooks.retryBaseSeconds else {
            throw ConfigurationError(key: "webhooks.retry_cap_seconds", problem: "must be at least webhooks.retry_base_seconds")
        }
    }

    private static func resolveUpstream(_ settings: Settings, into upstream: inout Upstream) throws {
        if let url = try settings.string("upstream.url") {
            guard UpstreamEndpoint(url: url) != nil else {
                throw ConfigurationError(key: "upstream.url", problem: "must be a ws:// or wss:// URL (got \(url))")
            }
            upstream.url = url
        }
        if let hex = try settings.string("upstream.root_key") {
            guard let key = hexBytes(hex), key.count == 32 else {
                throw ConfigurationError(key: "upstream.root_key", problem: "must be 64 hex digits (pairgate sim prints its own)")
            }
            upstream.rootKey = key
        }
        upstream.caFile = try settings.string("upstream.ca_file")
        if let proxy = try settings.string("upstream.proxy", secret: true) {
            guard ProxyConfiguration(url: proxy) != nil else {
                throw ConfigurationError(key: "upstream.proxy", problem: "must look like http://user:pass@host:port or socks5://user:pass@host:port")
            }
            upstream.proxy = proxy
        }
        if let version = try settings.string("upstream.web_version") {
            guard WebClientVersion(version) != nil else {
                throw ConfigurationError(key: "upstream.web_version", problem: "must look like 2.3000.1023456789 (got \(version))")
            }
            upstream.webVersion = version
        }
        if let url = try settings.string("upstream.version_url") {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? "") else {
                throw ConfigurationError(key: "upstream.version_url", problem: "must be an http:// or https:// URL (got \(url))")
            }
            upstream.versionURL = url
        }
        upstream.versionCheckIntervalSeconds = try settings.int("upstream.version_check_interval_seconds", in: 0...604_800)
            ?? upstream.versionCheckIntervalSeconds
        upstream.versionCheckTimeoutSeconds = try settings.int("upstream.version_check_timeout_seconds", in: 1...300)
            ?? upstream.versionCheckTimeoutSeconds
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0, digits.allSatisfy({ UInt8(ascii: "0")...UInt8(ascii: "9") ~= $0 || UInt8(ascii: "a")...UInt8(ascii: "f") ~= $0 || UInt8(ascii: "A")...UInt8(ascii: "F") ~= $0 }) else {
            return nil
        }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    static func defaultInstanceID(environment: [String: String]) -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "pairgate"
        return "\(host)-\(ProcessInfo.processInfo.processIdentifier)"
    }
}

/// Typed reads that tell "absent" from "present but malformed"; swift-configuration's
/// defaulted getters would silently fall back on a typo.
private struct Settings {
    let reader: ConfigReader

    func string(_ key: String, secret: Bool = false) throws -> String? {
        if let value = reader.string(forKey: ConfigKey(key), isSecret: secret) {
            guard !value.isEmpty else { throw ConfigurationError(key: key, problem: "is empty") }
            return value
        }
        if isPresent(key) { throw ConfigurationError(key: key, problem: "must be a string") }
        return nil
    }

    func bool(_ key: String) throws -> Bool? {
        if let value = reader.bool(forKey: ConfigKey(key)) { return value }
        if let text = reader.string(forKey: ConfigKey(key)) {
            switch text.trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw ConfigurationError(key: key, problem: "must be true or false (got \(text))")
            }
        }
        if isPresent(key) { throw ConfigurationError(key: key, problem: "must be true or false") }
        return nil
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        let value: Int
        if let number = reader.int(forKey: ConfigKey(key)) {
            value = number
        } else if let text = reader.string(forKey: ConfigKey(key)) {
            guard let number = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw ConfigurationError(key: key, problem: "must be an integer (got \(text))")
            }
            value = number
        } else if isPresent(key) {
            throw ConfigurationError(key: key, problem: "must be an integer")
        } else {
            return nil
        }
        guard range.contains(value) else {
            throw ConfigurationError(key: key, problem: "must be between \(range.lowerBound) and \(range.upperBound) (got \(value))")
        }
        return value
    }

    private func isPresent(_ key: String) -> Bool {
        let configKey = ConfigKey(key)
        return reader.bool(forKey: configKey) != nil || reader.double(forKey: configKey) != nil
            || reader.stringArray(forKey: configKey) != nil
    }
}
