import PairgateTestSupport
import PostgresClient
import Testing

@Suite("LISTEN/NOTIFY", .requiresDatabase)
struct ListenerTests {
    @Test func notificationsArriveInOrderOnTheirChannels() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let listener = try PostgresListener(
                configuration: .init(url: database.url),
                channels: ["pairings", "resets"],
                logger: TestDatabase.logger
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await listener.run() }
                var events = listener.events.makeAsyncIterator()
                #expect(await events.next() == .listening)
                for n in 1...5 { try await pool.notify(channel: "pairings", payload: "p\(n)") }
                try await pool.notify(channel: "resets", payload: "r1")
                try await pool.notify(channel: "unrelated", payload: "ignored")
                var received: [String] = []
                while received.count < 6, case .notification(let n) = await events.next() {
                    received.append("\(n.channel):\(n.payload)")
                }
                #expect(received == ["pairings:p1", "pairings:p2", "pairings:p3", "pairings:p4", "pairings:p5", "resets:r1"])
                group.cancelAll()
            }
            // Cancelling run() finishes the stream.
            var rest = listener.events.makeAsyncIterator()
            #expect(await rest.next() == nil)
            await pool.close()
        }
    }

    @Test func channelNamesAreValidatedBeforeQuoting() {
        #expect(throws: PostgresError.self) {
            try PostgresListener(configuration: .init(url: "postgresql://x"), channels: ["bad\"name"], logger: TestDatabase.logger)
        }
        #expect(throws: PostgresError.self) {
            try PostgresListener(configuration: .init(url: "postgresql://x"), channels: ["Upper"], logger: TestDatabase.logger)
        }
    }
}
