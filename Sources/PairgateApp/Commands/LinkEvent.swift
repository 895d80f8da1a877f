import Foundation
import WAClient
import WAWire

/// One thing `pairgate link` reports: a line of text for people, or with `--json` one JSON object
/// per line for scripts (the fields are documented in docs/link.md).
enum LinkEvent: Sendable {
    case credentialsLoaded(path: String)
    case connecting(upstream: String, proxy: ProxyConfiguration?, intent: ConnectionIntent)
    case qr(code: String, validFor: Duration)
    case pairingCode(String, validFor: Duration)
    case pairSuccess(jid: String?)
    case credentialsNotWritten(String)
    case paired(PairedAccount)
    case online(OnlineInfo)
    case credentialsUpdated
    case keepaliveLost(failures: Int, silentFor: Duration?)
    case keepaliveRestored
    case disconnected(DisconnectReason)
    case loggedOut(DisconnectReason)
    /// The command gives up; its message is also the command's error (stderr, exit status 1).
    case failed(String)

    /// The stable `event` field of the JSON form.
    var name: String {
        switch self {
        case .credentialsLoaded: "credentials_loaded"
        case .connecting: "connecting"
        case .qr: "qr"
        case .pairingCode: "pairing_code"
        case .pairSuccess: "pair_success"
        case .credentialsNotWritten: "credentials_not_written"
        case .paired: "paired"
        case .online: "online"
        case .credentialsUpdated: "credentials_updated"
        case .keepaliveLost: "keepalive_lost"
        case .keepaliveRestored: "keepalive_restored"
        case .disconnected: "disconnected"
        case .loggedOut: "logged_out"
        case .failed: "failed"
        }
    }

    /// The line printed for people; nil for `failed`, which the command prints as its error.
    var text: String? {
        switch self {
        case .credentialsLoaded(let path):
            "logging in with \(path)"
        case .connecting(let upstream, let proxy, let intent):
            "connecting to \(upstream)\(proxy.map { " through \($0)" } ?? "") to \(intent == .login ? "log in" : "pair")"
        case .qr(let code, let validFor):
            "qr (valid for \(HumanDuration.format(validFor))): \(code)"
        case .pairingCode(let code, let validFor):
            "pairing code (valid for \(HumanDuration.format(validFor))): \(code) — on the phone: Linked devices › Link with phone number"
        case .pairSuccess(let jid):
            "pair-success for \(jid ?? "?")"
        case .credentialsNotWritten(let error):
            "cannot write the credentials: \(error)"
        case .paired(let account):
            "paired as \(account.jid)\(account.lid.map { " (\($0))" } ?? ""), phone platform \(account.platform ?? "unknown")"
        case .online(let info):
            "online as \(info.jid); server clock offset \(HumanDuration.format(info.serverTimeOffset))"
        case .credentialsUpdated:
            "credentials updated"
        case .keepaliveLost(let failures, let silentFor):
            "keepalive lost (\(failures) failed\(silentFor.map { ", last answer \(HumanDuration.format($0)) ago" } ?? ""))"
        case .keepaliveRestored:
            "keepalive restored"
        case .disconnected(let reason):
            "disconnected: \(reason)"
        case .loggedOut(let reason):
            "logged out: \(reason)"
        case .failed:
            nil
        }
    }
}

extension LinkEvent: Encodable {
    private enum Key: String, CodingKey {
        case event, path, upstream, proxy, intent, qr
        case pairingCode = "pairing_code"
        case validForMilliseconds = "valid_for_ms"
        case jid, lid, platform
        case clockOffsetMilliseconds = "clock_offset_ms"
        case failures
        case silentForMilliseconds = "silent_for_ms"
        case stage, category, code, detail
        case banExpiresAt = "ban_expires_at"
        case message
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(name, forKey: .event)
        switch self {
        case .credentialsLoaded(let path):
            try container.encode(path, forKey: .path)
        case .connecting(let upstream, let proxy, let intent):
            try container.encode(upstream, forKey: .upstream)
            // The proxy's description never shows its password.
            try container.encodeIfPresent(proxy?.description, forKey: .proxy)
            try container.encode(intent == .login ? "login" : "pair", forKey: .intent)
        case .qr(let code, let validFor):
            try container.encode(code, forKey: .qr)
            try container.encode(validFor.roundedMilliseconds, forKey: .validForMilliseconds)
        case .pairingCode(let code, let validFor):
            try container.encode(code, forKey: .pairingCode)
            try container.encode(validFor.roundedMilliseconds, forKey: .validForMilliseconds)
        case .pairSuccess(let jid):
            try container.encodeIfPresent(jid, forKey: .jid)
        case .credentialsNotWritten(let error), .failed(let error):
            try container.encode(error, forKey: .message)
        case .paired(let account):
            try container.encode(account.jid, forKey: .jid)
            try container.encodeIfPresent(account.lid, forKey: .lid)
            try container.encodeIfPresent(account.platform, forKey: .platform)
        case .online(let info):
            try container.encode(info.jid, forKey: .jid)
            try container.encodeIfPresent(info.lid, forKey: .lid)
            try container.encode(info.serverTimeOffset.roundedMilliseconds, forKey: .clockOffsetMilliseconds)
        case .credentialsUpdated, .keepaliveRestored:
            break
        case .keepaliveLost(let failures, let silentFor):
            try container.encode(failures, forKey: .failures)
            try container.encodeIfPresent(silentFor?.roundedMilliseconds, forKey: .silentForMilliseconds)
        case .disconnected(let reason), .loggedOut(let reason):
            try container.encode(reason.stage.rawValue, forKey: .stage)
            try container.encode(reason.category.rawValue, forKey: .category)
            try container.encodeIfPresent(reason.code, forKey: .code)
            try container.encode(reason.detail, forKey: .detail)
            try container.encodeIfPresent(reason.banExpiresAt, forKey: .banExpiresAt)
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded half away from zero.
    fileprivate var roundedMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + Int64((Double(attoseconds) / 1e15).rounded())
    }
}
