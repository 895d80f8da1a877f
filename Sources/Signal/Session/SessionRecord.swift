/// Everything Signal keeps for one remote address: the current session state and up to 40 archived
/// ones (libsignal's SessionRecord). A value: operations return a new record and the caller commits it.
public struct SessionRecord: Sendable, Equatable, CustomStringConvertible {
    /// The state new messages are encrypted with; nil for a new or emptied record.
    public internal(set) var current: SessionState?
    /// Archived states, most recent first; a message that fails with `current` is tried with each.
    public internal(set) var previousStates: [SessionState]

    /// An empty record: no session yet.
    public init() {
        current = nil
        previousStates = []
    }

    init(current: SessionState?, previousStates: [SessionState]) {
        self.current = current
        self.previousStates = previousStates
    }

    public var isEmpty: Bool {
        current == nil && previousStates.isEmpty
    }

    public var description: String {
        "SessionRecord(current: \(current == nil ? "none" : "yes"), previousStates: \(previousStates.count))"
    }

    /// Whether any state was set up from this base key (a `pkmsg` we already processed).
    func containsState(baseKey: [UInt8]) -> Bool {
        current?.baseKey == baseKey || previousStates.contains { $0.baseKey == baseKey }
    }

    /// Makes `state` current, archiving the current one (libsignal's archive-then-promote).
    mutating func install(_ state: SessionState) {
        if let current {
            previousStates.insert(current, at: 0)
        }
        current = state
        enforceBounds()
    }

    /// Decrypts with the current state, then each archived one; the state that succeeds becomes
    /// current. A duplicate ends the search at once (its state knew the message); otherwise the
    /// current state's error is the one reported.
    mutating func decrypt(
        _ message: WhisperMessage,
        using generator: inout some RandomNumberGenerator
    ) throws(SignalError) -> (plaintext: [UInt8], state: SessionState) {
        guard !isEmpty else {
            throw SignalError(.noSession)
        }
        var firstError: SignalError?
        if var state = current {
            do {
                let plaintext = try state.decrypt(message, using: &generator)
                current = state
                enforceBounds()
                return (plaintext, state)
            } catch let error where error.code == .duplicate {
                throw error
            } catch {
                firstError = error
            }
        }
        for index in previousStates.indices {
            var state = previousStates[index]
            do {
                let plaintext = try state.decrypt(message, using: &generator)
                previousStates.remove(at: index)
                install(state)
                return (plaintext, state)
            } catch let error where error.code == .duplicate {
                throw error
            } catch {
                firstError = firstError ?? error
            }
        }
        throw firstError ?? SignalError(.noSession)
    }

    /// Drops archived states beyond the limit, then stored message keys beyond the record's limit,
    /// oldest first: from the oldest archived state, its oldest chain, its lowest index.
    mutating func enforceBounds() {
        if previousStates.count > SignalLimits.maximumPreviousStates {
            previousStates.removeLast(previousStates.count - SignalLimits.maximumPreviousStates)
        }
        var excess = previousStates.reduce(current?.storedKeyCount ?? 0) { $0 + $1.storedKeyCount } - SignalLimits.maximumStoredMessageKeys
        guard excess > 0 else {
            return
        }
        for index in previousStates.indices.reversed() where excess > 0 {
            previousStates[index].dropStoredKeys(&excess)
        }
        if excess > 0 {
            current?.dropStoredKeys(&excess)
        }
    }
}
