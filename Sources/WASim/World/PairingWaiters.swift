import Synchronization
import WAWire

/// Phone requests (a scan, a typed code) waiting for the companion to finish pairing, by phone number.
///
/// The world says which device got linked (`paired`), and which registration misbehaved (violations
/// carry the phone number while pairing); a request registers before it acts so it cannot miss either.
final class PairingWaiters: Sendable {
    typealias Outcome = Result<JID, SimulatorError>

    private struct Waiter {
        let phone: String
        var outcome: Outcome?
        var continuation: CheckedContinuation<Outcome, Never>?
    }

    private struct State {
        var waiters: [UInt64: Waiter] = [:]
        var next: UInt64 = 0
    }

    private let state = Mutex(State())

    /// A ticket for the next pairing of `phone`; pass it to `wait` or `cancel`.
    func register(phone: String) -> UInt64 {
        state.withLock { state in
            state.next += 1
            state.waiters[state.next] = Waiter(phone: phone)
            return state.next
        }
    }

    func cancel(_ ticket: UInt64) {
        resolve(ticket, .failure(SimulatorError(.pairingRefused, detail: "cancelled")))
    }

    /// The linked device, or why pairing failed or timed out.
    func wait(_ ticket: UInt64, timeout: Duration) async -> Outcome {
        await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let ready = self.state.withLock { state -> Outcome?? in
                            guard state.waiters[ticket] != nil else { return .some(nil) }
                            if let outcome = state.waiters[ticket]?.outcome { return .some(outcome) }
                            state.waiters[ticket]?.continuation = continuation
                            return .none
                        }
                        switch ready {
                        case .some(let outcome?): continuation.resume(returning: outcome)
                        case .some(nil): continuation.resume(returning: .failure(SimulatorError(.pairingRefused, detail: "cancelled")))
                        case .none: break
                        }
                    }
                } onCancel: {
                    self.cancel(ticket)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            let outcome = first ?? .failure(SimulatorError(
                .pairingRefused,
                detail: "the companion did not finish pairing within \(timeout) (a mistyped code, or the client refused pair-success); see GET /stats"
            ))
            state.withLock { _ = $0.waiters.removeValue(forKey: ticket) }
            return outcome
        }
    }

    /// `device` got linked: the oldest waiter for its phone number succeeds.
    func paired(_ device: JID) {
        resolveOldest(phone: device.user, .success(device))
    }

    /// A registration pairing with `phone` broke the protocol: the oldest waiter for it fails.
    func violation(phone: String, detail: String) {
        resolveOldest(phone: phone, .failure(SimulatorError(.pairingRefused, detail: detail)))
    }

    private func resolveOldest(phone: String, _ outcome: Outcome) {
        let ticket = state.withLock { state in
            state.waiters.filter { $0.value.phone == phone && $0.value.outcome == nil }.keys.min()
        }
        if let ticket { resolve(ticket, outcome) }
    }

    private func resolve(_ ticket: UInt64, _ outcome: Outcome) {
        let continuation = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
            guard var waiter = state.waiters[ticket], waiter.outcome == nil else { return nil }
            waiter.outcome = outcome
            let continuation = waiter.continuation
            waiter.continuation = nil
            state.waiters[ticket] = waiter
            return continuation
        }
        continuation?.resume(returning: outcome)
    }
}
