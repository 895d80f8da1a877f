import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Gives the heap's free pages back to the kernel every `interval` (glibc's `malloc_trim(0)`).
///
/// glibc returns freed memory to the kernel only from the top of each arena: a burst — 10,000
/// logins after a restart, a message to every device — leaves freed pages between live ones, and
/// the process would keep them resident for good. At 2,000 devices after one message each, one
/// trim took the gateway from 181 to 118 MiB (docs/performance.md, "Fleet"). The call walks every
/// arena under its lock (how long that takes at 10,000 devices is not measured yet), so it runs on
/// a thread of NIO's pool, never on Swift's cooperative threads. Nothing to do where the C library
/// is not glibc.
struct HeapTrimmer: Service {
    let interval: Duration
    let clock: any Clock<Duration>
    let trim: @Sendable () -> Void

    init(interval: Duration, clock: any Clock<Duration> = ContinuousClock(), trim: @escaping @Sendable () -> Void = HeapTrimmer.trimHeap) {
        self.interval = interval
        self.clock = clock
        self.trim = trim
    }

    /// Trims every `interval` until the graceful shutdown (or cancellation) begins. Add it only
    /// with an interval above zero: a service that returns early ends the whole service group.
    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await clock.sleep(for: interval)
                    try await NIOThreadPool.singleton.runIfActive { trim() }
                }
            }
        } catch is CancellationError {
            // The shutdown: nothing left worth trimming.
        }
    }

    @Sendable static func trimHeap() {
        #if canImport(Glibc)
        _ = glibcMallocTrim(0)
        #endif
    }
}

#if canImport(Glibc)
/// glibc's `int malloc_trim(size_t pad)` (malloc.h), which Swift's Glibc module does not export.
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: UInt) -> Int32
#endif
