import Foundation
import Synchronization
import WAWire

/// A value read from the database at most once per `ttl`, however many callers ask: one read
/// runs at a time and every caller in the meantime waits for it — at most `wait`, so that a
/// database that does not answer cannot hold them. The read runs in a task of its own so that
/// a caller that stops waiting does not cancel it for the others.
final class SharedRead<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var readAt: Date?
        var reading = false
        var waiters: [UUID: CheckedContinuation<Value?, Never>] = [:]
    }

    private let ttl: Duration
    private let wait: Duration
    private let now: @Sendable () -> Date
    private let read: @Sendable () async -> Value
    private let state = Mutex(State())

    init(ttl: Duration, wait: Duration, now: @escaping @Sendable () -> Date, read: @escaping @Sendable () async -> Value) {
        self.ttl = ttl
        self.wait = wait
        self.now = now
        self.read = read
    }

    /// The last value read, however old (nil before the first read ended).
    var last: Value? {
        state.withLock { $0.value }
    }

    /// A value read less than `ttl` ago, or the one read now; nil when no read ended within `wait`.
    func value() async -> Value? {
        let current = now()
        let (fresh, start) = state.withLock { state -> (Value?, Bool) in
            if let value = state.value, let readAt = state.readAt, current.timeIntervalSince(readAt) < ttl.seconds {
                return (value, false)
            }
            defer { state.reading = true }
            return (nil, !state.reading)
        }
        if let fresh { return fresh }
        if start {
            Task {
                let value = await read()
                let waiters = state.withLock { state in
                    state.value = value
                    state.readAt = now()
                    state.reading = false
                    defer { state.waiters = [:] }
                    return state.waiters.values
                }
                for waiter in waiters { waiter.resume(returning: value) }
            }
        }
        return await waitForRead()
    }

    private func waitForRead() async -> Value? {
        let id = UUID()
        let wait = self.wait
        return await withTaskGroup(of: Value?.self) { group in
            group.addTask { await self.readEnded(waiter: id) }
            group.addTask {
                try? await Task.sleep(for: wait)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// The value of the read running now, once it ends; nil when cancelled first.
    private func readEnded(waiter id: UUID) async -> Value? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                // Checked under the lock that onCancel takes: either it finds the waiter, or the
                // waiter is never queued.
                let now = state.withLock { state -> Value?? in
                    if Task.isCancelled { return .some(nil) }
                    guard state.reading else { return .some(state.value) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }
}
