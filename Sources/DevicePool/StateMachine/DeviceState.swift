import Foundation
import WAClient

/// Where one linked device stands. The persisted `state` column is `kind.rawValue`; the
/// associated values go to `state_reason` and `next_attempt_at`.
public enum DeviceState: Sendable, Hashable, CustomStringConvertible {
    /// No credentials; can start pairing.
    case unpaired
    /// A pairing is running with this method.
    case pairing(PairingMethodKind)
    /// pair-success is stored; the device waits for its first login (after the 515 restart, or
    /// after a shutdown).
    case paired
    /// A connection attempt is under way.
    case connecting
    /// Logged in and connected.
    case online
    /// Waiting to reconnect after `reason`; attempt counts consecutive failures.
    case backoff(until: Date, attempt: Int, reason: DisconnectReason.Category)
    /// Not reconnecting until something changes (a new version, the ban's end, a reset).
    case suspended(Suspension)
    /// Credentials are wiped; only a new pairing brings it back.
    case loggedOut(reason: String)

    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        case unpaired, pairing, paired, connecting, online, backoff, suspended
        case loggedOut = "logged_out"
    }

    public var kind: Kind {
        switch self {
        case .unpaired: .unpaired
        case .pairing: .pairing
        case .paired: .paired
        case .connecting: .connecting
        case .online: .online
        case .backoff: .backoff
        case .suspended: .suspended
        case .loggedOut: .loggedOut
        }
    }

    /// What is stored beside the kind (`state_reason`), e.g. `qr`, `network:3`,
    /// `client_outdated:2.3000.1`.
    public var reason: String? {
        switch self {
        case .pairing(let method): method.rawValue
        case .backoff(_, let attempt, let reason): "\(reason.rawValue):\(attempt)"
        case .suspended(let suspension): suspension.stored
        case .loggedOut(let reason): reason
        case .unpaired, .paired, .connecting, .online: nil
        }
    }

    /// When the device acts next by itself: the backoff's end or the ban's end (`next_attempt_at`).
    public var nextAttemptAt: Date? {
        switch self {
        case .backoff(let until, _, _): until
        case .suspended(.temporaryBan(let until)): until
        default: nil
        }
    }

    /// Rebuilds a state from its stored columns; nil when they do not make sense together.
    public init?(kind: Kind, reason: String?, nextAttemptAt: Date?) {
        switch kind {
        case .unpaired: self = .unpaired
        case .paired: self = .paired
        case .connecting: self = .connecting
        case .online: self = .online
        case .pairing:
            guard let method = reason.flatMap(PairingMethodKind.init(rawValue:)) else { return nil }
            self = .pairing(method)
        case .backoff:
            let parts = (reason ?? "").split(separator: ":", maxSplits: 1).map(String.init)
            guard let category = parts.first.flatMap(DisconnectReason.Category.init(rawValue:)) else { return nil }
            let attempt = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
            self = .backoff(until: nextAttemptAt ?? .distantPast, attempt: attempt, reason: category)
        case .suspended:
            guard let reason else { return nil }
            if reason == "replaced" {
                self = .suspended(.replaced)
            } else if reason == "credentials_unreadable" {
                self = .suspended(.credentialsUnreadable)
            } else if reason == "temporary_ban" {
                self = .suspended(.temporaryBan(until: nextAttemptAt))
            } else if reason == "refused" {
                self = .suspended(.refused(code: nil))
            } else if reason.hasPrefix("refused:"), let code = Int(reason.dropFirst("refused:".count)) {
                self = .suspended(.refused(code: code))
            } else if reason.hasPrefix("client_outdated:") {
                self = .suspended(.clientOutdated(version: String(reason.dropFirst("client_outdated:".count))))
            } else {
                return nil
            }
        case .loggedOut:
            self = .loggedOut(reason: reason ?? "logged_out")
        }
    }

    /// Whether a device in this state should hold a lease and a connection actor.
    public var wantsConnection: Bool {
        switch kind {
        case .paired, .connecting, .online, .backoff, .suspended: true
        case .unpaired, .pairing, .loggedOut: false
        }
    }

    public var description: String {
        reason.map { "\(kind.rawValue)(\($0))" } ?? kind.rawValue
    }
}

/// How a pairing proves the phone's owner: scanning a QR code or typing a code.
public enum PairingMethodKind: String, Sendable, Hashable, Codable, CaseIterable {
    case qr, code
}

/// Why a device is not reconnecting on its own.
public enum Suspension: Sendable, Hashable {
    /// failure 405; retried once the configured WhatsApp Web version differs from `version`.
    case clientOutdated(version: String)
    /// Another client took over with these keys; only an operator reset resumes it.
    case replaced
    /// failure 402; resumes by itself at `until`.
    case temporaryBan(until: Date?)
    /// The stored credentials cannot be opened with the configured keys; resumes when an
    /// instance that can open them takes the device (after a restart with the key configured).
    case credentialsUnreadable
    /// The server refused the device in a way we do not know to pass (an unknown `<failure>`
    /// reason, stream:error 401 without device_removed, 516): its credentials are kept, and only an
    /// operator reset tries again.
    case refused(code: Int?)

    /// The `state_reason` column's form.
    public var stored: String {
        switch self {
        case .clientOutdated(let version): "client_outdated:\(version)"
        case .replaced: "replaced"
        case .temporaryBan: "temporary_ban"
        case .credentialsUnreadable: "credentials_unreadable"
        case .refused(let code): code.map { "refused:\($0)" } ?? "refused"
        }
    }

    public var name: String {
        switch self {
        case .clientOutdated: "client_outdated"
        case .replaced: "replaced"
        case .temporaryBan: "temporary_ban"
        case .credentialsUnreadable: "credentials_unreadable"
        case .refused: "refused"
        }
    }
}
