import Synchronization

/// A fault armed by a control call: it hits the next `remaining` connections that reach its stage,
/// those of one device only when `device` is set.
public struct ArmedFault: Sendable, Hashable {
    public var kind: FaultKind
    public var remaining: Int
    /// A device JID (`phone:device@s.whatsapp.net`); connection faults cannot target one.
    public var device: String?
    /// `delay_handshake`: how long ServerHello waits; `slow_keepalive`: how long each answer waits;
    /// stream errors and `unlink`: how long after the login they come.
    public var delay: Duration

    public init(kind: FaultKind, count: Int = 1, device: String? = nil, delay: Duration? = nil) {
        self.kind = kind
        remaining = count
        self.device = device
        self.delay = delay ?? FaultInjector.defaultDelay(kind)
    }
}

/// A login fault decided for one connection.
public struct InjectedFault: Sendable, Hashable {
    public var kind: FaultKind
    /// For `slow_keepalive`, how long each answer is held; for stream errors and unlink, how long after login.
    public var delay: Duration
}

/// Decides which faults hit each connection: armed faults first (in the order they were armed), then
/// the schedule. Connection faults are decided when a socket opens, login faults when a device logs in.
public final class FaultInjector: Sendable {
    private struct State {
        var armed: [ArmedFault] = []
        var schedule: FaultSchedule?
        /// Armed `failure_405`s handed to connections that have not logged in yet: a registration
        /// gives its one back, so "the next login fails" means a login, not any socket.
        var reservedLoginFailures: [SimConnectionID: ArmedFault] = [:]
        /// Message copies planned so far: the schedule's draw for a message uses this number.
        var messages: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// A slow answer comes past a client's 10 s keepalive deadline; a delayed handshake still fits its 20 s;
    /// a stream error or unlink comes once the client is fully online (prekeys and passive done).
    static func defaultDelay(_ kind: FaultKind) -> Duration {
        switch kind {
        case .delayHandshake: .seconds(3)
        case .slowKeepalive: .seconds(12)
        case .streamError515, .streamError503, .conflictReplaced, .deviceRemoved, .unlink: .seconds(1)
        default: .zero
        }
    }

    /// Arms `fault` after checking it can ever fire.
    public func arm(_ fault: ArmedFault) throws(SimulatorError) {
        guard fault.remaining > 0 else {
            throw SimulatorError(.invalidCount, detail: "count must be at least 1")
        }
        guard fault.delay >= .zero else {
            throw SimulatorError(.invalidDelay, detail: "delay must not be negative")
        }
        if fault.device != nil, fault.kind.stage == .connect {
            throw SimulatorError(
                .deviceNotTargetable,
                detail: "\(fault.kind.rawValue) is decided when the socket opens, before the device is known; arm it without a device"
            )
        }
        state.withLock { $0.armed.append(fault) }
    }

    /// Replaces the schedule; nil stops scheduled faults.
    public func setSchedule(_ schedule: FaultSchedule?) throws(SimulatorError) {
        try schedule?.validate()
        state.withLock { $0.schedule = schedule }
    }

    /// Disarms every fault and removes the schedule.
    public func clear() {
        state.withLock { $0 = State() }
    }

    /// The faults still armed, in firing order.
    public var armed: [ArmedFault] { state.withLock { $0.armed } }
    public var schedule: FaultSchedule? { state.withLock { $0.schedule } }

    /// The connection faults of a socket that just opened.
    public func planConnection(_ id: SimConnectionID) -> SimConnectionFaults {
        state.withLock { state in
            var faults = SimConnectionFaults()
            for kind in FaultKind.allCases where kind.stage == .connect {
                guard let delay = Self.take(kind, device: nil, connection: id, from: &state) else { continue }
                switch kind {
                case .refuseConnection: faults.refuse = true
                case .dropHandshake: faults.dropMidHandshake = true
                case .delayHandshake: faults.handshakeDelay = delay
                default: faults.loginFailure = 405
                }
            }
            return faults
        }
    }

    /// The handshake finished: a login uses up the login failure the connection held; a registration
    /// hands it back, armed again for the next connection.
    public func handshakeCompleted(_ id: SimConnectionID, isRegistration: Bool) {
        if isRegistration {
            giveBack(id)
        } else {
            _ = state.withLock { $0.reservedLoginFailures.removeValue(forKey: id) }
        }
    }

    /// The connection ended; a login failure it still held (it never got to log in) is armed again.
    public func connectionClosed(_ id: SimConnectionID) {
        giveBack(id)
    }

    private func giveBack(_ id: SimConnectionID) {
        state.withLock { state in
            guard var fault = state.reservedLoginFailures.removeValue(forKey: id) else { return }
            if let index = state.armed.firstIndex(where: { $0.kind == fault.kind && $0.device == nil }) {
                state.armed[index].remaining += 1
            } else {
                fault.remaining = 1
                state.armed.insert(fault, at: 0)
            }
        }
    }

    /// The login fault for `device`, which just logged in on connection `id`: the earliest armed one, else the schedule's.
    public func planLogin(_ id: SimConnectionID, device: String) -> InjectedFault? {
        state.withLock { state in
            let armed = state.armed.first { $0.kind.stage == .login && ($0.device == nil || $0.device == device) }
            for kind in armed.map({ [$0.kind] }) ?? FaultKind.allCases where kind.stage == .login {
                if let delay = Self.take(kind, device: device, connection: id, from: &state) {
                    return InjectedFault(kind: kind, delay: delay)
                }
            }
            return nil
        }
    }

    /// Whether the message copy about to be encrypted for `device` is made undecryptable: an armed
    /// `undecryptable_message` first, else the schedule's draw for the next message number.
    public func planMessage(device: String) -> Bool {
        state.withLock { state in
            state.messages += 1
            return Self.take(.undecryptableMessage, device: device, connection: SimConnectionID(state.messages), from: &state) != nil
        }
    }

    /// What happens to the next message `device` sends: the first armed `rate_overlimit`,
    /// `retry_receipt` or `withhold_ack` for it, in the order armed; else the schedule's draws for the
    /// next message number (in that order).
    public func planSend(device: String) -> SimSendFault? {
        state.withLock { state in
            state.messages += 1
            let number = SimConnectionID(state.messages)
            let kinds: [FaultKind] = [.rateOverlimit, .retryReceipt, .withholdAck]
            let armed = state.armed.first { kinds.contains($0.kind) && ($0.device == nil || $0.device == device) }
            for kind in armed.map({ [$0.kind] }) ?? kinds {
                if Self.take(kind, device: device, connection: number, from: &state) != nil {
                    switch kind {
                    case .rateOverlimit: return .rateOverlimit
                    case .withholdAck: return .withholdAck
                    default: return .askRetry
                    }
                }
            }
            return nil
        }
    }

    /// Uses up one armed fault of `kind` matching `device`, or asks the schedule; the delay when it fires.
    private static func take(_ kind: FaultKind, device: String?, connection: SimConnectionID, from state: inout State) -> Duration? {
        if let index = state.armed.firstIndex(where: { $0.kind == kind && ($0.device == nil || $0.device == device) }) {
            let fault = state.armed[index]
            state.armed[index].remaining -= 1
            if state.armed[index].remaining == 0 {
                state.armed.remove(at: index)
            }
            if kind == .failure405 {
                state.reservedLoginFailures[connection] = fault
            }
            return fault.delay
        }
        guard let schedule = state.schedule, schedule.fires(kind, connection: connection.rawValue) else { return nil }
        return schedule.delays[kind] ?? defaultDelay(kind)
    }
}
