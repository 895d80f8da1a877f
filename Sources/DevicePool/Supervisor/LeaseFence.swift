import Synchronization
import WAClient

/// What a device's lease still allows, readable and closable from outside its actor. When the
/// supervisor's deadline for the lease passes, `expire()` closes the upstream connection at once
/// — even while the actor waits on the database — and from then on the actor neither connects
/// nor writes again, whatever a late renewal says.
final class LeaseFence: Sendable {
    private struct State {
        var expired = false
        /// The connection the actor opened last (it may have ended since; closing it again is harmless).
        var session: (any UpstreamSession)?
    }

    private let state = Mutex(State())

    var isExpired: Bool {
        state.withLock { $0.expired }
    }

    /// Records the connection the actor just opened; false once expired (the caller closes it).
    func admit(_ session: any UpstreamSession) -> Bool {
        state.withLock { state in
            guard !state.expired else { return false }
            state.session = session
            return true
        }
    }

    /// Expires the lease; returns the connection to close (nil: none, or expired already).
    func expire() -> (any UpstreamSession)? {
        state.withLock { state in
            state.expired = true
            defer { state.session = nil }
            return state.session
        }
    }
}
