@testable import PairgateApp
import PairgateTestSupport
import Synchronization
import Testing

@Suite("Heap trimmer")
struct HeapTrimmerTests {
    final class Counter: Sendable {
        let trims = Mutex(0)
        var value: Int { trims.withLock { $0 } }
    }

    @Test func trimsOncePerIntervalUntilCancelled() async throws {
        let clock = ManualClock()
        let counter = Counter()
        let trimmer = HeapTrimmer(interval: .seconds(30), clock: clock) { counter.trims.withLock { $0 += 1 } }
        let running = Task { try await trimmer.run() }
        try await eventually("the trimmer asleep") { clock.sleeperCount == 1 }
        clock.advance(by: .seconds(29))
        #expect(counter.value == 0)
        clock.advance(by: .seconds(1))
        try await eventually("one trim, then asleep again") { counter.value == 1 && clock.sleeperCount == 1 }
        clock.advance(by: .seconds(30))
        try await eventually("a second trim") { counter.value == 2 && clock.sleeperCount == 1 }
        running.cancel()
        // Cancellation (the shutdown) ends it without an error: a service that throws would fail the group.
        try await running.value
        #expect(counter.value == 2)
    }
}
