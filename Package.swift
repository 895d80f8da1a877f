// swift-tools-version:6.2
import PackageDescription

// Read top to bottom, the targets are the architecture (docs/architecture.md):
// pure protocol and encoders first, then I/O, then the pool, the HTTP surface and the executable.
let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "pairgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pairgate", targets: ["pairgate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // MARK: C libraries from the system (apt: libpq-dev, zlib1g-dev)
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),

        // MARK: Pure layers: no sockets, no clocks, no globals
        .target(
            name: "WAWire",
            dependencies: [
                "CZlib",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Protobuf/proto"],
            swiftSettings: strictSwift
        ),
        // Signal v3 (X3DH, Double Ratchet, sender keys) as values in, values out (docs/signal.md).
        .target(
            name: "Signal",
            dependencies: [
                "WAWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        // The receive path shared by the pool and `pairgate link` (docs/messaging.md): stanza → load →
        // decrypt (pure) → one commit → answers. Pure but for the async ProtocolStore it declares.
        .target(
            name: "Messaging",
            dependencies: [
                "Signal",
                "WAWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "QRCode",
            swiftSettings: strictSwift
        ),
        // Figures for the wire layer (`pairgate bench wire`): handshakes, transport, nodes.
        .target(
            name: "WireBench",
            dependencies: [
                "WAWire",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: The upstream side: the companion client and the simulated WhatsApp
        // Whole binary WebSocket messages over NIO, for the client's socket and the simulator's.
        .target(
            name: "WebSocketMessages",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "WAClient",
            dependencies: [
                "WAWire",
                "WebSocketMessages",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "WASim",
            dependencies: [
                "WAWire",
                "Signal",
                "WebSocketMessages",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: The device pool: state machine, reconnect policy, pairing locks, leases, supervisor
        .target(
            name: "DevicePool",
            dependencies: [
                "Messaging",
                "Signal",
                "WAClient",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: PostgreSQL through libpq
        .target(
            name: "PostgresClient",
            dependencies: [
                "CLibPQ",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "PostgresStore",
            dependencies: [
                "PostgresClient",
                "DevicePool",
                "Messaging",
                "Signal",
                "WAClient",
                "Webhooks",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: Webhooks: the event catalogue, Standard Webhooks signing, the retry policy and a
        // delivery client with the SSRF rules (docs/webhooks.md). No store, no pool: the gateway's
        // outbox and workers build on it.
        .target(
            name: "Webhooks",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: The HTTP surface: Host → tenant, auth, pairing routes and page, admin, metrics
        .target(
            name: "AdminAPI",
            dependencies: [
                "DevicePool",
                "Messaging",
                "PostgresClient",
                "PostgresStore",
                "QRCode",
                "WAClient",
                "Webhooks",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: A real fleet on one machine: throwaway PostgreSQL, gateway processes, the invariants
        // (`pairgate chaos` and the fleet benchmarks; docs/chaos.md)
        .target(
            name: "FleetHarness",
            dependencies: [
                "DevicePool",
                "PostgresClient",
                "PostgresStore",
                "WASim",
                "WAWire",
                "Webhooks",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),

        // Figures for the fleet budgets (`pairgate bench pairing|status|fleet|webhooks|inbound`): a throwaway
        // database, the gateway in process or as a child, the simulator, a keep-alive load generator.
        .target(
            name: "FleetBench",
            dependencies: [
                "AdminAPI",
                "DevicePool",
                "FleetHarness",
                "Messaging",
                "Signal",
                "PostgresClient",
                "PostgresStore",
                "WAClient",
                "WASim",
                "WAWire",
                "Webhooks",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: The executable: subcommands, configuration, wiring
        .target(
            name: "PairgateApp",
            dependencies: [
                "AdminAPI",
                "FleetHarness",
                "Messaging",
                "Signal",
                "PostgresClient",
                "QRCode",
                "PostgresStore",
                "DevicePool",
                "WAClient",
                "WAWire",
                "WireBench",
                "FleetBench",
                "WASim",
                "Webhooks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "pairgate",
            dependencies: [
                "PairgateApp",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: Tests
        // Shared by the test targets: throwaway databases and clusters, environment switches.
        .target(
            name: "PairgateTestSupport",
            dependencies: [
                "PostgresClient",
                "DevicePool",
                "Signal",
                "WAClient",
                "WAWire",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/Support",
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "WAWireTests",
            dependencies: ["WAWire"],
            resources: [.copy("Vectors")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "SignalTests",
            dependencies: ["Signal", "WAWire"],
            resources: [.copy("Vectors")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "MessagingTests",
            dependencies: [
                "DevicePool",
                "Messaging",
                "PairgateTestSupport",
                "Signal",
                "WAClient",
                "WAWire",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "QRCodeTests",
            dependencies: ["QRCode", "PairgateTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "WAClientTests",
            dependencies: [
                "WAClient",
                "WASim",
                "Signal",
                "WAWire",
                "WebSocketMessages",
                "PairgateTestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "DevicePoolTests",
            dependencies: [
                "DevicePool", "Messaging", "WAClient", "WASim", "WAWire", "PostgresStore", "PostgresClient", "PairgateTestSupport",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "PostgresClientTests",
            dependencies: [
                "PostgresClient", "PostgresStore", "DevicePool", "WAClient", "FleetHarness", "PairgateTestSupport", "Webhooks",
                "Messaging", "Signal", "WAWire",
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "WebhooksTests",
            dependencies: [
                "Webhooks",
                "WASim",
                "WAWire",
                "PairgateTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "AdminAPITests",
            dependencies: [
                "AdminAPI",
                "DevicePool",
                "Messaging",
                "FleetHarness",
                "PostgresClient",
                "PostgresStore",
                "WAClient",
                "WASim",
                "Webhooks",
                "PairgateTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            exclude: ["Browser"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "FleetHarnessTests",
            dependencies: ["FleetHarness", "DevicePool", "WASim", "WAWire", "PostgresClient", "PostgresStore", "Webhooks", "PairgateTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "PairgateAppTests",
            dependencies: [
                "AdminAPI",
                "DevicePool",
                "FleetHarness",
                "Messaging",
                "Signal",
                "PairgateApp",
                "PairgateTestSupport",
                "PostgresClient",
                "PostgresStore",
                "WASim",
                "Webhooks",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
    ]
)
