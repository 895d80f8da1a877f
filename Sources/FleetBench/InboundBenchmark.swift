import DevicePool
import Foundation
import Logging
import Messaging
import PostgresClient
import PostgresStore
import WAClient
import WAWire

/// `pairgate bench inbound`: messages per second through the gateway's receive path — the shared
/// `InboundPipeline` (load, Signal decrypt, unpad, protobuf, one fenced and sealed commit in
/// PostgreSQL, the receipt built) — for many devices at once, as the pool runs it: each device's
/// stanzas one at a time in order, devices in parallel. The stanzas are encrypted by simulated
/// contacts before the clock starts, so the figure is the gateway's work alone; the receipt is
/// built but not written to a socket (`pairgate bench wire` measures the transport).
public enum InboundBenchmark {
    public struct Options: Sendable {
        public var devices = 20
        public var messagesPerDevice = 250
        /// Contacts writing to each device; each starts one session (its first message is a `pkmsg`).
        public var contactsPerDevice = 5
        /// PostgreSQL connections of the gateway's pool.
        public var connections = 8

        public init() {}
    }

    public struct Result: Sendable, Codable, CustomStringConvertible {
        public var devices: Int
        public var messages: Int
        public var contactsPerDevice: Int
        public var connections: Int
        public var seconds: Double
        public var messagesPerSecond: Double
        /// One stanza through the pipeline, receive → answers ready (ms).
        public var p50Milliseconds: Double
        public var p99Milliseconds: Double
        /// Inbox rows after the run: every message exactly once.
        public var stored: Int
        public var budgetMet: Bool { messagesPerSecond >= 5000 }

        public var description: String {
            """
            inbound: \(messages) messages to \(devices) devices (\(contactsPerDevice) contacts each) through decrypt → commit → receipt, \
            \(connections) PostgreSQL connections
              \(String(format: "%.1f", seconds)) s: \(Int(messagesPerSecond)) messages/s — budget ≥ 5,000/s: \(budgetMet ? "met" : "MISSED")
              per message p50 \(String(format: "%.2f", p50Milliseconds)) ms, p99 \(String(format: "%.2f", p99Milliseconds)) ms; inbox rows \(stored)
            """
        }
    }

    public static func run(serverURL: String, options: Options, logger: Logger) async throws -> Result {
        try await BenchDatabase.with(serverURL: serverURL, logger: logger) { database in
            let pool = database.pool(maximumConnections: options.connections)
            do {
                let result = try await run(pool: pool, options: options, logger: logger)
                await pool.close()
                return result
            } catch {
                await pool.close()
                throw error
            }
        }
    }

    /// One device ready to receive: its lease, its credentials and the stanzas waiting for it.
    private struct Prepared: Sendable {
        var tenant: UUID
        var lease: Lease
        var credentials: DeviceCredentials
        var stanzas: [Node]
    }

    private static func run(pool: PostgresPool, options: Options, logger: Logger) async throws -> Result {
        try await PairgateSchema.migrator(pool: pool, logger: logger).migrate()
        let store = PostgresDeviceStore(pool: pool)
        let sealer = CredentialSealer(current: try MasterKey(parsing: MasterKey.generate(id: "bench")))

        print("encrypting \(options.devices * options.messagesPerDevice) messages (not measured)")
        var prepared: [Prepared] = []
        var random = SeededRandom(seed: 11)
        for device in 0..<options.devices {
            // A tenant per device: a tenant pairs one device at a time, and the lease comes from its pairing.
            let tenant = try await TenantStore(pool: pool).create(name: "Inbound \(device)", hosts: ["i\(device).bench.example"]).tenant.id
            let lease = try await store.beginPairing(
                tenantID: tenant, deviceID: nil, name: "bench \(device)", method: .qr, owner: "bench", leaseTTL: .seconds(3600), window: .seconds(3600)
            ).lease
            var credentials = DeviceCredentials.generate(using: &random)
            credentials.account = PairedAccount(
                jid: JID(user: String(15_552_000_000 + device), device: 1, server: .whatsApp).description,
                lid: JID(user: String(800_000_000_000_000 + device), device: 1, server: .lid).description,
                platform: "android", businessName: nil, signedIdentity: [0x0A, 0x01, 0x02], keyIndex: 1
            )
            var contacts = try (0..<options.contactsPerDevice).map { index in
                try BenchContact(index: index, credentials: credentials, preKeyID: UInt32(index + 1), seed: UInt64(device * 1000 + index))
            }
            var stanzas: [Node] = []
            for number in 0..<options.messagesPerDevice {
                let text = "bench message \(number) for device \(device)"
                stanzas.append(try contacts[number % contacts.count].message(text, id: String(format: "3EB0%08X%04X", number, device), t: 1_760_000_000))
            }
            prepared.append(Prepared(tenant: tenant, lease: lease, credentials: credentials, stanzas: stanzas))
        }

        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for device in prepared {
                group.addTask {
                    let pipeline = InboundPipeline(
                        store: store.protocolStore(device.lease, tenantID: device.tenant, sealer: sealer), device: LocalDevice(credentials: device.credentials)!
                    )
                    var generator = SystemRandomNumberGenerator()
                    var latencies: [Double] = []
                    for node in device.stanzas {
                        let begun = ContinuousClock.now
                        let result = try await pipeline.receive(node, using: &generator)
                        guard result.report.disposition == .stored, !result.answers.isEmpty else {
                            throw BenchError("a bench message was not stored: \(result.report.disposition)")
                        }
                        latencies.append((ContinuousClock.now - begun).seconds * 1000)
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }.sorted()
        }
        let seconds = (ContinuousClock.now - start).seconds
        let stored = Int(try await pool.query("SELECT count(*)::bigint FROM messages")[0].decode(0, as: Int64.self))
        return Result(
            devices: options.devices, messages: latencies.count, contactsPerDevice: options.contactsPerDevice, connections: options.connections,
            seconds: seconds, messagesPerSecond: Double(latencies.count) / seconds,
            p50Milliseconds: latencies[latencies.count / 2], p99Milliseconds: latencies[min(latencies.count - 1, latencies.count * 99 / 100)],
            stored: stored
        )
    }
}
