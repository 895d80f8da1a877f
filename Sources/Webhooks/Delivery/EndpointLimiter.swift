import Synchronization

/// At most `limit` attempts in flight per endpoint; further callers wait their turn in order. A
/// slow receiver then holds only its own endpoint's slots, never the workers' whole capacity.
final class EndpointLimiter: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var inFlight: [String: Int] = [:]
        var waiting: [String: [Waiter]] = [:]
        var nextID: UInt64 = 0
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Waits for a slot of `endpoint`; throws CancellationError (and holds nothing) if the task
    /// is cancelled first. Every successful call is paired with `release`.
    func acquire(_ endpoint: String) async throws(CancellationError) {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let granted: Bool? = state.withLock { state in
                        if Task.isCancelled { return false }
                        if state.inFlight[endpoint, default: 0] < limit, state.waiting[endpoint, default: []].isEmpty {
                            state.inFlight[endpoint, default: 0] += 1
                            return true
                        }
                        state.waiting[endpoint, default: []].append(Waiter(id: id, continuation: continuation))
                        return nil
                    }
                    switch granted {
                    case true?: continuation.resume()
                    case false?: continuation.resume(throwing: CancellationError())
                    case nil: break
                    }
                }
            } onCancel: {
                let waiter = state.withLock { state -> Waiter? in
                    guard let index = state.waiting[endpoint]?.firstIndex(where: { $0.id == id }) else { return nil }
                    let waiter = state.waiting[endpoint]?.remove(at: index)
                    if state.waiting[endpoint]?.isEmpty == true { state.waiting[endpoint] = nil }
                    return waiter
                }
                waiter?.continuation.resume(throwing: CancellationError())
            }
        } catch {
            throw CancellationError()
        }
    }

    /// Hands the slot to the next waiter, or frees it.
    func release(_ endpoint: String) {
        let next = state.withLock { state -> Waiter? in
            if var queue = state.waiting[endpoint], !queue.isEmpty {
                let next = queue.removeFirst()
                state.waiting[endpoint] = queue.isEmpty ? nil : queue
                return next  // the slot passes on: inFlight stays
            }
            let count = state.inFlight[endpoint, default: 1] - 1
            state.inFlight[endpoint] = count > 0 ? count : nil
            return nil
        }
        next?.continuation.resume()
    }

    /// Attempts in flight and callers waiting for `endpoint` (tests and the deliveries log).
    func load(_ endpoint: String) -> (inFlight: Int, waiting: Int) {
        state.withLock { ($0.inFlight[endpoint, default: 0], $0.waiting[endpoint]?.count ?? 0) }
    }
}
