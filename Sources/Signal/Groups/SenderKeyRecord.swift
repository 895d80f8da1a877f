/// The sender keys of one (group, sender): up to five states, most recent first (libsignal's
/// SenderKeyRecord). A value: operations return a new record and the caller commits it.
public struct SenderKeyRecord: Sendable, Equatable, CustomStringConvertible {
    public internal(set) var states: [SenderKeyState]

    /// An empty record: no sender key yet.
    public init() {
        states = []
    }

    init(states: [SenderKeyState]) {
        self.states = states
    }

    public var isEmpty: Bool {
        states.isEmpty
    }

    public var description: String {
        "SenderKeyRecord(states: \(states.count))"
    }

    /// Adds a received key as the newest state (libsignal's `add_sender_key_state`): the same key id
    /// and signing key again keeps the state we have, which may be further along, so a replayed
    /// distribution message cannot rewind the chain; the same id with another signing key replaces it.
    mutating func add(_ state: SenderKeyState) {
        let existing = states.first { $0.keyID == state.keyID && $0.signingPublicKey == state.signingPublicKey }
        states.removeAll { $0.keyID == state.keyID }
        states.insert(existing ?? state, at: 0)
        enforceBounds()
    }

    /// Drops states beyond five, then stored keys beyond the record's limit: oldest state first,
    /// lowest iteration first.
    mutating func enforceBounds() {
        if states.count > SignalLimits.maximumSenderKeyStates {
            states.removeLast(states.count - SignalLimits.maximumSenderKeyStates)
        }
        var excess = states.reduce(0) { $0 + $1.storedKeys.count } - SignalLimits.maximumStoredSenderMessageKeys
        for index in states.indices.reversed() where excess > 0 {
            let dropped = min(excess, states[index].storedKeys.count)
            states[index].storedKeys.removeFirst(dropped)
            excess -= dropped
        }
    }
}
