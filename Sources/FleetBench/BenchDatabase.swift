import Foundation
import Logging
import NIOPosix
import PostgresClient

/// A database of its own for one benchmark run, created on a server the caller names and dropped
/// afterwards, so runs never see each other's devices.
public struct BenchDatabase: Sendable {
    public let url: String
    public let name: String
    let threadPool: NIOThreadPool
    let logger: Logger

    /// Creates an empty database on the server of `serverURL`, runs `body`, drops it.
    public static func with<T: Sendable>(serverURL: String, logger: Logger, _ body: (BenchDatabase) async throws -> T) async throws -> T {
        guard var components = URLComponents(string: serverURL), components.scheme?.hasPrefix("postgres") == true else {
            throw BenchError("--database-url must be a postgresql:// URL of a server where the user may CREATE DATABASE")
        }
        let threadPool = NIOThreadPool(numberOfThreads: 24)
        threadPool.start()
        defer { threadPool.shutdownGracefully { _ in } }
        let name = "pairgate_bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        let admin = PostgresPool(configuration: .init(url: serverURL), threadPool: threadPool, logger: logger)
        try await admin.query("CREATE DATABASE \(name)")
        components.path = "/" + name
        let database = BenchDatabase(url: components.string ?? serverURL, name: String(name), threadPool: threadPool, logger: logger)
        do {
            let result = try await body(database)
            _ = try? await admin.query("DROP DATABASE \(name) WITH (FORCE)")
            await admin.close()
            return result
        } catch {
            _ = try? await admin.query("DROP DATABASE \(name) WITH (FORCE)")
            await admin.close()
            throw error
        }
    }

    /// A pool on this database over the benchmark's thread pool.
    public func pool(maximumConnections: Int) -> PostgresPool {
        var configuration = PostgresConfiguration(url: url)
        configuration.maximumConnections = maximumConnections
        return PostgresPool(configuration: configuration, threadPool: threadPool, logger: logger)
    }
}
