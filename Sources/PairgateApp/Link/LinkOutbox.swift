import DevicePool
import Foundation
import Messaging
import Synchronization
import WAWire

/// `pairgate link --send`'s outbox, in memory for one run: the messages given on the command line,
/// and the device lists the sender caches (usync answers). The gateway's is PostgreSQL; the send
/// path (`DeviceSender`) is the same. Nothing here outlives the command: the next run asks usync
/// again, which costs one IQ and is always right.
final class LinkOutbox: OutboxStore {
    private struct State {
        var lists: [JID: [JID]] = [:]
        var messages: [String: QueuedMessage] = [:]
    }

    private let state = Mutex(State())

    /// A message the command sends: kept so that a retry receipt can ask for it again.
    func add(_ message: QueuedMessage) {
        state.withLock { $0.messages[message.messageID] = message }
    }

    /// The command picks its messages itself, one at a time, in the order given.
    func nextQueued(notBefore: Date, now: Date) async throws -> QueuedMessage? {
        nil
    }

    func deviceLists(_ users: [JID]) async throws -> [JID: [JID]] {
        state.withLock { state in
            var found: [JID: [JID]] = [:]
            for user in users {
                found[user] = state.lists[user]
            }
            return found
        }
    }

    func saveDeviceList(_ devices: [JID], of user: JID) async throws {
        state.withLock { $0.lists[user] = devices }
    }

    func forgetDeviceLists(_ users: [JID]) async throws {
        state.withLock { state in
            users.forEach { state.lists[$0] = nil }
        }
    }

    func sentMessage(_ messageID: String) async throws -> QueuedMessage? {
        state.withLock { $0.messages[messageID] }
    }
}

/// One `--send NUMBER TEXT`, checked as `POST /messages` checks its body.
struct LinkOutgoing: Sendable, Hashable {
    /// As given: `+15551234567` or a user JID.
    let to: String
    let chat: JID
    let text: String

    /// Pairs the `--send` values (NUMBER TEXT NUMBER TEXT …); the error names what is wrong.
    static func parse(_ values: [String]) -> Result<[LinkOutgoing], LinkFailure> {
        guard values.count % 2 == 0 else {
            return .failure(LinkFailure("--send takes a NUMBER and a TEXT each time, e.g. --send +15551234567 \"hello\""))
        }
        var parsed: [LinkOutgoing] = []
        for index in stride(from: 0, to: values.count, by: 2) {
            let to = values[index], text = values[index + 1]
            guard let chat = OutboundRecipient.parse(to) else {
                return .failure(LinkFailure(
                    "--send \(to): the recipient must be an international number such as +15551234567, or a user JID (…@s.whatsapp.net, …@lid)"
                ))
            }
            guard OutboundText.fits(text), !text.unicodeScalars.contains("\0") else {
                return .failure(LinkFailure("--send \(to): the text must be 1 to \(OutboundText.maximumLength) characters, without NUL"))
            }
            parsed.append(LinkOutgoing(to: to, chat: chat, text: text))
        }
        return .success(parsed)
    }
}

/// Where each message of the run stands, as the command prints it: `queued` → `sent` (the server's
/// ack) → `delivered` → `read` (receipts), or `failed` with a reason. Statuses only move forward,
/// as in the gateway (a read receipt before the delivery receipt makes the later one a no-op).
struct LinkSendProgress: Sendable {
    struct Entry: Sendable {
        let outgoing: LinkOutgoing
        let message: QueuedMessage
        /// nil while queued.
        var status: OutboundStatusChange.Status?
        var reason: String?
    }

    private(set) var entries: [Entry]
    /// The next message to send (messages go one at a time, each after the previous one's ack).
    private(set) var next = 0
    /// The message whose ack is awaited, with what `DeviceSender.record` needs.
    var inFlight: (id: String, sent: DeviceSender.SentStanza)?

    init(_ outgoing: [LinkOutgoing], ownUser: String?, now: Date) {
        var random = SystemRandomNumberGenerator()
        entries = outgoing.map { outgoing in
            let id = MessageID.generate(unixSeconds: Int64(now.timeIntervalSince1970), ownUser: ownUser, using: &random)
            return Entry(
                outgoing: outgoing,
                message: QueuedMessage(messageID: id, chat: outgoing.chat, raw: OutboundText.serialized(outgoing.text), queuedAt: now)
            )
        }
    }

    /// The message to send now, if none awaits its ack.
    var due: Entry? {
        inFlight == nil && next < entries.count ? entries[next] : nil
    }

    /// Every message went out (acked) or failed: nothing more to write.
    var allSent: Bool {
        next == entries.count && inFlight == nil
    }

    /// Nothing more can happen to any message: read, or failed.
    var allFinal: Bool {
        allSent && entries.allSatisfy { $0.status == .read || $0.status == .failed }
    }

    var failures: [Entry] {
        entries.filter { $0.status == .failed }
    }

    /// The due message was written (or failed before it could be): the next one is due after its ack.
    mutating func advance() {
        next += 1
    }

    /// Applies a status change; the entry when it moved the message forward (to print), else nil.
    mutating func apply(_ change: OutboundStatusChange) -> Entry? {
        guard let index = entries.firstIndex(where: { $0.message.messageID == change.messageID }) else {
            return nil
        }
        if let current = entries[index].status, current == .failed || change.status <= current {
            return nil
        }
        entries[index].status = change.status
        entries[index].reason = change.failureReason
        return entries[index]
    }
}
