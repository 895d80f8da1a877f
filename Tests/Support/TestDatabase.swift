import Foundation
import Logging
import NIOPosix
import PostgresClient
import Testing

/// A database of its own for one test, created on the throwaway server and dropped afterwards.
public struct TestDatabase: Sendable {
    public let url: String
    public let name: String

    /// Threads for every pool the tests open, and for the tests' child processes. A PostgresPool
    /// needs a thread for each of its connections, or a call on a blackholed or stopped server
    /// holds up calls that have nothing to do with it; eight tests at a time (ops/test.sh), each
    /// with up to three pools of twelve connections plus listeners, initdb and python3 children,
    /// outgrew 64 threads: two tests then waited minutes for a thread in CI. Idle threads cost
    /// only address space.
    public static let threadPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 512)
        pool.start()
        return pool
    }()

    public static let logger = Logger(label: "pairgate.tests")

    /// Creates an empty database, runs `body` with it, drops it afterwards.
    public static func with<T: Sendable>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        let adminURL = try #require(TestEnvironment.databaseURL, "PAIRGATE_TEST_DATABASE_URL is not set")
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = PostgresPool(configuration: .init(url: adminURL), threadPool: threadPool, logger: logger)
        try await admin.query("CREATE DATABASE \(name)")
        let database = TestDatabase(url: replacingDatabase(in: adminURL, with: String(name)), name: String(name))
        do {
            let result = try await body(database)
            try await admin.query("DROP DATABASE \(name) WITH (FORCE)")
            await admin.close()
            return result
        } catch {
            _ = try? await admin.query("DROP DATABASE \(name) WITH (FORCE)")
            await admin.close()
            throw error
        }
    }

    /// A pool on this database.
    public func pool(maximumConnections: Int = 4, configure: (inout PostgresConfiguration) -> Void = { _ in }) -> PostgresPool {
        var configuration = PostgresConfiguration(url: url)
        configuration.maximumConnections = maximumConnections
        configure(&configuration)
        return PostgresPool(configuration: configuration, threadPool: Self.threadPool, logger: Self.logger)
    }

    /// Where the test server listens (ops/test.sh: TCP on 127.0.0.1), for a proxy in front of it.
    public var server: (host: String, port: Int) {
        let components = URLComponents(string: url)!
        return (components.host ?? "127.0.0.1", components.port ?? 5432)
    }

    /// This database's URL through 127.0.0.1:`port` instead (a proxy's).
    public func url(throughPort port: Int) -> String {
        var components = URLComponents(string: url)!
        components.host = "127.0.0.1"
        components.port = port
        return components.string!
    }

    static func replacingDatabase(in url: String, with name: String) -> String {
        var components = URLComponents(string: url)!
        components.path = "/" + name
        return components.string!
    }
}
