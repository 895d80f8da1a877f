import Foundation
import WAClient
import WAWire

/// The device lifecycle as a pure value: events in, actions out. A repeated event (a new QR
/// while showing a QR) is an update, not a transition; an event the current state does not
/// allow is rejected and never applied. The connection actor executes the actions.
public struct DeviceStateMachine: Sendable {
    /// One applied change of state, persisted as a history row (and as a `device.state` webhook
    /// event in the same transaction).
    public struct Transition: Sendable, Hashable {
        public var from: DeviceState
        public var to: DeviceState
        /// Why: the event or the disconnect's category.
        public var reason: String
        /// The disconnect that caused the move, when one did.
        public var disconnect: DisconnectReason?
        /// The reconnect policy's decision on that disconnect.
        public var decision: ReconnectPolicy.Decision?

        public init(
            from: DeviceState, to: DeviceState, reason: String,
            disconnect: DisconnectReason? = nil, decision: ReconnectPolicy.Decision? = nil
        ) {
            self.from = from
            self.to = to
            self.reason = reason
            self.disconnect = disconnect
            self.decision = decision
        }
    }

    public enum Action: Sendable, Hashable {
        /// Write the transition (state, reason, history row), fenced by the lease.
        case persist(Transition)
        /// Open an upstream connection with this intent.
        case connect(ConnectionIntent)
        /// Close the current upstream connection, if any, for this local reason.
        case closeConnection(DisconnectReason)
        /// Ask the server to remove this companion, then close.
        case logoutUpstream
        /// Wake the machine at this time (`backoffElapsed` or `suspensionLifted`).
        case scheduleWake(at: Date)
        case cancelWake
        /// Delete the device's credentials.
        case wipeCredentials
        /// Close the pairing session and release the tenant's pairing lock.
        case endPairing(PairingOutcome, detail: String?)
        /// Write a disconnect row with the decision taken.
        case recordDisconnect(DisconnectReason, ReconnectPolicy.Decision)
    }

    public enum Outcome: Sendable, Hashable {
        /// The event changed the state (or started work); execute the actions in order.
        case applied([Action])
        /// A repeated event inside the same state: nothing to persist.
        case updated
        /// Not allowed in this state: log and count it, change nothing.
        case rejected(String)
    }

    public private(set) var state: DeviceState
    /// Consecutive failed connections (for the backoff).
    public private(set) var attempt: Int
    private var onlineSince: Date?
    private var immediateReconnects: [Date] = []
    private let policy: ReconnectPolicy
    /// The WhatsApp Web version the current connection announced: a 405 names it.
    public var webVersion: String

    public init(state: DeviceState, policy: ReconnectPolicy = ReconnectPolicy(), webVersion: String, attempt: Int = 0) {
        self.state = state
        self.policy = policy
        self.webVersion = webVersion
        self.attempt = attempt
    }

    public mutating func handle(
        _ event: DeviceEvent,
        now: Date,
        random: inout some RandomNumberGenerator
    ) -> Outcome {
        switch (state, event) {
        // Pairing
        case (.unpaired, .pairRequested(let method)), (.loggedOut, .pairRequested(let method)):
            return move(to: .pairing(method.kind), because: "pair_requested", then: [.connect(.pair(method))])
        case (.pairing, .pairingCodeIssued):
            return .updated
        case (.pairing, .paired):
            return move(to: .paired, because: "paired", then: [.endPairing(.paired, detail: nil)])
        case (.pairing, .pairingEnded(let outcome)):
            return move(to: .unpaired, because: "pairing_\(outcome.rawValue)", then: [
                .closeConnection(Self.local("pairing \(outcome.rawValue)")),
                .wipeCredentials,
                .endPairing(outcome, detail: nil),
            ])
        case (.pairing, .disconnected(let reason)):
            let outcome: PairingOutcome = reason.category == .pairingTimeout ? .timeout : .failed
            return move(to: .unpaired, because: reason.category.rawValue, cause: (reason, .stop), then: [
                .recordDisconnect(reason, .stop),
                .wipeCredentials,
                .endPairing(outcome, detail: reason.description),
            ])
        case (.pairing, .reset):
            return move(to: .unpaired, because: "reset", then: [
                .closeConnection(Self.local("pairing cancelled by reset")),
                .wipeCredentials,
                .endPairing(.cancelled, detail: "reset"),
            ])
        case (.pairing, .shutdown):
            return move(to: .unpaired, because: "shutdown", then: [
                .closeConnection(Self.local("shutdown")),
                .wipeCredentials,
                .endPairing(.interrupted, detail: "gateway shutdown"),
            ])

        // Connecting and online
        case (.paired, .connectRequested), (.online, .connectRequested), (.backoff, .connectRequested):
            return move(to: .connecting, because: "connect_requested", then: [.connect(.login)])
        case (.connecting, .connectRequested):
            return .applied([.connect(.login)])
        case (.connecting, .loginSucceeded):
            onlineSince = now
            return move(to: .online, because: "login_succeeded", then: [])
        case (.online, .keepaliveChanged):
            return .updated
        case (.paired, .disconnected(let reason)), (.connecting, .disconnected(let reason)), (.online, .disconnected(let reason)):
            return afterDisconnect(reason, now: now, random: &random)
        case (.backoff, .backoffElapsed):
            return move(to: .connecting, because: "backoff_elapsed", then: [.connect(.login)])
        case (.suspended(.temporaryBan), .suspensionLifted), (.suspended(.clientOutdated), .suspensionLifted),
             (.suspended(.credentialsUnreadable), .suspensionLifted):
            attempt = 0
            return move(to: .connecting, because: "suspension_lifted", then: [.connect(.login)])
        case (.suspended(.credentialsUnreadable), .credentialsUnreadable):
            return .updated
        case (.paired, .credentialsUnreadable), (.connecting, .credentialsUnreadable), (.online, .credentialsUnreadable),
             (.backoff, .credentialsUnreadable), (.suspended, .credentialsUnreadable):
            return move(to: .suspended(.credentialsUnreadable), because: "credentials_unreadable", then: [
                .cancelWake, .closeConnection(Self.local("credentials unreadable")),
            ])

        // Resets and shutdown
        case (.paired, .reset(.soft)), (.connecting, .reset(.soft)), (.online, .reset(.soft)),
             (.backoff, .reset(.soft)), (.suspended, .reset(.soft)):
            attempt = 0
            immediateReconnects.removeAll()
            return move(to: .connecting, because: "reset_soft", then: [
                .cancelWake, .closeConnection(Self.local("soft reset")), .connect(.login),
            ])
        case (.paired, .reset(.logout)), (.connecting, .reset(.logout)), (.online, .reset(.logout)),
             (.backoff, .reset(.logout)), (.suspended, .reset(.logout)):
            return move(to: .loggedOut(reason: "reset"), because: "reset_logout", then: [
                .cancelWake, .logoutUpstream, .wipeCredentials,
            ])
        case (.paired, .shutdown), (.connecting, .shutdown), (.online, .shutdown), (.backoff, .shutdown):
            let reason = Self.local("shutdown")
            return move(to: .paired, because: "shutdown", then: [
                .cancelWake, .closeConnection(reason), .recordDisconnect(reason, .stop),
            ])
        case (.suspended, .shutdown):
            return .updated
        case (.paired, .stop), (.connecting, .stop), (.online, .stop), (.backoff, .stop):
            let reason = Self.local("stopped through the API")
            return move(to: .paired, because: "stopped", then: [
                .cancelWake, .closeConnection(reason), .recordDisconnect(reason, .stop),
            ])
        // A suspended device has no connection to close; it stays suspended, and a start
        // resumes it as a restart would.
        case (.suspended, .stop):
            return .updated
        // Resetting a device that has nothing to reset is a no-op, so /reset stays idempotent.
        case (.unpaired, .reset), (.loggedOut, .reset):
            return .updated

        default:
            return .rejected("\(Self.name(of: event)) is not allowed in state \(state.kind.rawValue)")
        }
    }

    private mutating func afterDisconnect(
        _ reason: DisconnectReason,
        now: Date,
        random: inout some RandomNumberGenerator
    ) -> Outcome {
        if let since = onlineSince, now.timeIntervalSince(since) >= policy.resetAfterOnline.seconds {
            attempt = 0
        }
        onlineSince = nil
        var decision = policy.decide(reason, attempt: attempt, webVersion: webVersion, random: &random)
        if decision == .reconnectNow {
            immediateReconnects = immediateReconnects.filter { now.timeIntervalSince($0) < policy.immediateWindow.seconds }
            if immediateReconnects.count >= policy.immediateLimit {
                decision = .backoff(delay: policy.backoffDelay(attempt: attempt + 1, random: &random), attempt: attempt + 1)
            } else {
                immediateReconnects.append(now)
            }
        }
        let record = Action.recordDisconnect(reason, decision)
        let cause = (reason, decision)
        switch decision {
        case .reconnectNow:
            if state == .connecting { return .applied([record, .connect(.login)]) }
            return move(to: .connecting, because: reason.category.rawValue, cause: cause, then: [record, .connect(.login)])
        case .backoff(let delay, let attempt):
            self.attempt = attempt
            let until = now.addingTimeInterval(delay.seconds)
            return move(to: .backoff(until: until, attempt: attempt, reason: reason.category), because: reason.category.rawValue,
                        cause: cause, then: [record, .scheduleWake(at: until)])
        case .suspend(let suspension):
            var actions: [Action] = [record]
            if case .temporaryBan(let until?) = suspension { actions.append(.scheduleWake(at: until)) }
            return move(to: .suspended(suspension), because: reason.category.rawValue, cause: cause, then: actions)
        case .logOut:
            return move(to: .loggedOut(reason: reason.category.rawValue), because: reason.category.rawValue,
                        cause: cause, then: [record, .wipeCredentials])
        case .stop:
            return move(to: .paired, because: reason.category.rawValue, cause: cause, then: [record])
        }
    }

    private mutating func move(
        to next: DeviceState, because reason: String, cause: (DisconnectReason, ReconnectPolicy.Decision)? = nil, then actions: [Action]
    ) -> Outcome {
        guard next != state else { return .applied(actions) }
        let transition = Transition(from: state, to: next, reason: reason, disconnect: cause?.0, decision: cause?.1)
        state = next
        return .applied([.persist(transition)] + actions)
    }

    static func local(_ detail: String) -> DisconnectReason {
        DisconnectReason(stage: .local, category: .shutdown, detail: detail)
    }

    static func name(of event: DeviceEvent) -> String {
        switch event {
        case .pairRequested: "pair_requested"
        case .pairingCodeIssued: "pairing_code_issued"
        case .paired: "paired"
        case .pairingEnded: "pairing_ended"
        case .connectRequested: "connect_requested"
        case .loginSucceeded: "login_succeeded"
        case .disconnected: "disconnected"
        case .keepaliveChanged: "keepalive_changed"
        case .backoffElapsed: "backoff_elapsed"
        case .suspensionLifted: "suspension_lifted"
        case .credentialsUnreadable: "credentials_unreadable"
        case .reset(let mode): "reset_\(mode.rawValue)"
        case .shutdown: "shutdown"
        case .stop: "stop"
        }
    }

    /// Whether a persisted history row is a transition this machine can make — the chaos
    /// check's invariant over the whole history.
    public static func allows(from: DeviceState.Kind, to: DeviceState.Kind) -> Bool {
        allowedTransitions[from]?.contains(to) ?? false
    }

    static let allowedTransitions: [DeviceState.Kind: Set<DeviceState.Kind>] = [
        .unpaired: [.pairing],
        .loggedOut: [.pairing],
        .pairing: [.paired, .unpaired],
        .paired: [.connecting, .backoff, .suspended, .loggedOut],
        .connecting: [.online, .backoff, .suspended, .loggedOut, .paired],
        .online: [.connecting, .backoff, .suspended, .loggedOut, .paired],
        .backoff: [.connecting, .loggedOut, .paired, .suspended],
        .suspended: [.connecting, .loggedOut, .suspended],
    ]
}

extension PairingMethod {
    public var kind: PairingMethodKind {
        switch self {
        case .qr: .qr
        case .code: .code
        }
    }
}
