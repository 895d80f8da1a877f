import Foundation
import WAWire

/// Turns the server's `<failure>` and `<stream:error>` stanzas into one `DisconnectReason` (transport.md §6.3–§6.4).
public enum DisconnectClassification {
    /// `<failure reason=…>`: 401/403/406 logged out, 402 banned until `expire`, 405 outdated (naming
    /// `webVersion`), 500/503 server error. Any other reason, or none, is `refused`: whatsmeow stops
    /// reconnecting on a reason it does not know, and so do we rather than hammer the account.
    public static func failure(_ node: Node, now: Date, webVersion: WebClientVersion) -> DisconnectReason {
        guard let reason = node.attribute("reason").flatMap({ Int($0) }) else {
            return DisconnectReason(stage: .login, category: .refused, detail: "login refused without a readable reason")
        }
        switch reason {
        case 401, 403, 406:
            let name = reason == 401 ? "not authorized" : reason == 403 ? "main device gone (locked)" : "banned"
            return DisconnectReason(stage: .login, category: .loggedOut, code: reason, detail: "logged out: \(name)")
        case 402:
            let expire = node.attribute("expire").flatMap { Int($0) }.map { min(max($0, 0), 10 * 365 * 86400) }
            let banCode = node.attribute("code").map { " (ban code \($0))" } ?? ""
            return DisconnectReason(
                stage: .login, category: .temporaryBan, code: reason, detail: "temporarily banned\(banCode)",
                banExpiresAt: expire.map { now.addingTimeInterval(TimeInterval($0)) }
            )
        case 405:
            return DisconnectReason(
                stage: .login, category: .clientOutdated, code: reason,
                detail: "the server refuses WhatsApp Web version \(webVersion) as outdated"
            )
        case 500, 503:
            return DisconnectReason(stage: .login, category: .serverError, code: reason, detail: "server error")
        default:
            return DisconnectReason(stage: .login, category: .refused, code: reason, detail: "login refused with reason \(reason)")
        }
    }

    /// `<stream:error>`: 515 restart, 503/500 server error, conflict `replaced`, conflict
    /// `device_removed` logged out; 401 without device_removed and 516 are `refused` (wiping a link
    /// is irreversible, so only the server's explicit word does it); an `<ack>` complaint
    /// `ack_rejected` (naming the stanza id); anything else `other`.
    public static func streamError(_ node: Node) -> DisconnectReason {
        let code = node.attribute("code").flatMap { Int($0) }
        let conflict = node.child("conflict")?.attribute("type")
        if conflict == "replaced" {
            return DisconnectReason(stage: .stream, category: .replaced, code: code, detail: "another client took over this device")
        }
        if conflict == "device_removed" {
            return DisconnectReason(stage: .stream, category: .loggedOut, code: code ?? 401, detail: "the device was unlinked")
        }
        switch code {
        case 515:
            return DisconnectReason(stage: .stream, category: .restartRequired, code: 515, detail: "restart required")
        case 500, 503:
            return DisconnectReason(stage: .stream, category: .serverError, code: code, detail: "server error")
        case .some(let refusal) where refusal == 401 || refusal == 516:
            return DisconnectReason(stage: .stream, category: .refused, code: refusal, detail: "stream error \(refusal) without device_removed")
        default:
            if let ack = node.child("ack") {
                // The server's complaint about an ack (messaging.md §3.4): malformed, or a stanza left
                // unacked. The id names the stanza, so the log shows which answer went wrong.
                let id = ack.attribute("id").map { " \($0.prefix(64))" } ?? ""
                return DisconnectReason(stage: .stream, category: .ackRejected, code: code, detail: "the server refused the ack of stanza\(id)")
            }
            let what = node.children.first.map { " <\($0.tag.prefix(40))>" } ?? ""
            let codeText = code.map { " \($0)" } ?? ""
            return DisconnectReason(stage: .stream, category: .other, code: code, detail: "stream error\(codeText)\(what)")
        }
    }
}
