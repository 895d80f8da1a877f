import Foundation
import Messaging
import Signal
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
    /// A message decrypted and stored (with --stay), before its receipt went out.
    case message(InboxMessage)
    /// A message delivered again that was handled before: receipted again, not printed twice.
    case messageDuplicate(id: String, from: String)
    /// A message that did not decrypt: a retry receipt (its count) unless five were sent, then an ack.
    case messageUndecryptable(id: String, from: String, reason: String, retry: Int?)
    /// A stanza answered with `<ack error>` (487 unparsable, 488 no `<enc>`, 491 not a protobuf, 495).
    case stanzaRefused(tag: String, id: String, code: Int)
    /// A contact's identity key changed or was forgotten (fingerprints, never keys).
    case identityChanged(ProtocolChanges.IdentityChange)
    /// A message given with --send moved on: queued (with its WhatsApp id), sent, delivered, read,
    /// or failed with a reason.
    case messageStatus(LinkSendProgress.Entry)
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
        case .message: "message"
        case .messageDuplicate: "message_duplicate"
        case .messageUndecryptable: "message_undecryptable"
        case .stanzaRefused: "stanza_refused"
        case .identityChanged: "identity_changed"
        case .messageStatus: "message_status"
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
        case .message(let message):
            "message \(message.key.messageID) from \(message.fromMe ? "me" : message.key.sender)"
                + (message.key.chat == message.key.sender ? "" : " in \(message.key.chat)")
                + " (\(message.type))" + (message.text.map { ": \($0)" } ?? "")
        case .messageDuplicate(let id, let from):
            "message \(id) from \(from) again: received before, receipted again"
        case .messageUndecryptable(let id, let from, let reason, let retry):
            "message \(id) from \(from) did not decrypt (\(reason)); "
                + (retry.map { "retry receipt \($0) sent" } ?? "acked without a retry receipt")
        case .stanzaRefused(let tag, let id, let code):
            "\(tag) \(id) refused with ack error \(code)"
        case .identityChanged(let change):
            "identity of \(change.address) changed: \(change.previousFingerprint) → \(change.newFingerprint ?? "forgotten")"
        case .messageStatus(let entry):
            "message \(entry.message.messageID) to \(entry.outgoing.to): \(entry.status?.rawValue ?? "queued")"
                + (entry.reason.map { " (\($0))" } ?? "")
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
        case id, chat, sender, type, text, timestamp
        case fromMe = "from_me"
        case from, reason
        case retryCount = "retry_count"
        case tag, address, to, status
        case previousFingerprint = "previous_fingerprint"
        case newFingerprint = "new_fingerprint"
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
        case .message(let message):
            try container.encode(message.key.messageID, forKey: .id)
            try container.encode(message.key.chat, forKey: .chat)
            try container.encode(message.key.sender, forKey: .sender)
            try container.encode(message.type, forKey: .type)
            try container.encodeIfPresent(message.text, forKey: .text)
            try container.encode(message.sentAt, forKey: .timestamp)
            try container.encode(message.fromMe, forKey: .fromMe)
        case .messageDuplicate(let id, let from):
            try container.encode(id, forKey: .id)
            try container.encode(from, forKey: .from)
        case .messageUndecryptable(let id, let from, let reason, let retry):
            try container.encode(id, forKey: .id)
            try container.encode(from, forKey: .from)
            try container.encode(reason, forKey: .reason)
            try container.encodeIfPresent(retry, forKey: .retryCount)
        case .stanzaRefused(let tag, let id, let code):
            try container.encode(tag, forKey: .tag)
            try container.encode(id, forKey: .id)
            try container.encode(code, forKey: .code)
        case .messageStatus(let entry):
            try container.encode(entry.message.messageID, forKey: .id)
            try container.encode(entry.outgoing.to, forKey: .to)
            try container.encode(entry.status?.rawValue ?? "queued", forKey: .status)
            try container.encodeIfPresent(entry.reason, forKey: .reason)
        case .identityChanged(let change):
            try container.encode(change.address.description, forKey: .address)
            try container.encode(change.previousFingerprint, forKey: .previousFingerprint)
            try container.encodeIfPresent(change.newFingerprint, forKey: .newFingerprint)
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
