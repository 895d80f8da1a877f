#if os(Linux)
import Glibc
import NIOPosix
import PairgateTestSupport
@testable import PostgresClient
import Testing

/// The kernel-side timeouts reach the socket libpq opened: read back with getsockopt.
@Suite("PostgreSQL socket options", .requiresDatabase)
struct SocketOptionTests {
    private static func option(_ socket: Int32, _ level: Int32, _ name: Int32) -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(socket, level, name, &value, &length)
        return value
    }

    @Test func keepalivesAndTheUserTimeoutAreSetOnEveryTCPConnection() async throws {
        try await TestDatabase.with { database in
            let configuration = PostgresConfiguration(url: database.url)
            let options = try await TestDatabase.threadPool.runIfActive { () -> [Int32] in
                let connection = try PostgresConnection.connect(configuration)
                defer { connection.close() }
                let socket = connection.socket
                let tcp = Int32(IPPROTO_TCP)
                return [
                    Self.option(socket, SOL_SOCKET, SO_KEEPALIVE),
                    Self.option(socket, tcp, TCP_KEEPIDLE),
                    Self.option(socket, tcp, TCP_KEEPINTVL),
                    Self.option(socket, tcp, TCP_KEEPCNT),
                    Self.option(socket, tcp, TCP_USER_TIMEOUT),
                ]
            }
            #expect(options == [1, 5, 1, 3, 5000])
        }
    }

    @Test func keepalivesCanBeTurnedOffAndTheUserTimeoutLeftToTheKernel() async throws {
        try await TestDatabase.with { database in
            var off = PostgresConfiguration(url: database.url)
            off.keepalive = nil
            off.tcpUserTimeout = nil
            let configuration = off
            let options = try await TestDatabase.threadPool.runIfActive { () -> [Int32] in
                let connection = try PostgresConnection.connect(configuration)
                defer { connection.close() }
                return [Self.option(connection.socket, SOL_SOCKET, SO_KEEPALIVE), Self.option(connection.socket, Int32(IPPROTO_TCP), TCP_USER_TIMEOUT)]
            }
            #expect(options == [0, 0])
        }
    }
}
#endif
