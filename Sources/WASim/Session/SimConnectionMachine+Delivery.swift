import Foundation
import WAWire

extension SimConnectionMachine {
    /// A stanza written on this connection and not answered yet.
    struct Outstanding: Sendable {
        let sequence: UInt64
        /// The stanza's tag and addressing, which its answer must copy verbatim.
        let envelope: StanzaEnvelope
        /// A message from one of the account's own devices: its delivery receipt has `type="sender"`.
        let isOwn: Bool
        let sentAt: Date
    }

    /// Receipt types that are not delivery receipts: a client marking messages read or played. They are
    /// not answers to a delivery, so they neither clear a stanza nor count as a violation.
    static let readReceiptTypes: Set<String> = ["read", "read-self", "played", "played-self"]

    // MARK: Delivering

    /// The queue the world handed over once the device logged in (messaging.md §2.9): the preview with
    /// the counts by tag, every queued stanza with `offline` (how many times it was offered before), then
    /// the count. From now on stanzas are written as the world delivers them.
    mutating func replay(_ queue: [SimStanza]?, now: Date) -> [Action] {
        guard let queue, var session, !session.isDelivering else {
            return []
        }
        session.isDelivering = true
        self.session = session
        let counts = Dictionary(grouping: queue, by: \.node.tag).mapValues(\.count)
        var preview: Node.Attributes = ["count": .string(String(queue.count))]
        for tag in ["message", "notification", "receipt", "appdata"] {
            preview[tag] = .string(String(counts[tag] ?? 0))
        }
        var actions = send(Node("ib", [Node("offline_preview", preview)]))
        for stanza in queue {
            var node = stanza.node
            node.attributes["offline"] = .string(String(stanza.offers))
            actions += write(node, stanza, now: now)
        }
        actions += send(Node("ib", [Node("offline", ["count": .string(String(queue.count))])]))
        if !queue.isEmpty {
            actions.append(.update(.offered(session.device, sequences: queue.map(\.sequence))))
        }
        return actions + rescheduleAckDeadline(now: now)
    }

    /// A stanza queued while the device is online: written at once.
    mutating func deliverLive(_ stanza: SimStanza, now: Date) -> [Action] {
        guard let session, session.isDelivering else {
            // Not this connection's yet (or any more): the stanza waits in the queue for the next replay.
            return []
        }
        return write(stanza.node, stanza, now: now) + [.update(.offered(session.device, sequences: [stanza.sequence]))]
            + rescheduleAckDeadline(now: now)
    }

    private mutating func write(_ node: Node, _ stanza: SimStanza, now: Date) -> [Action] {
        guard var session else {
            return []
        }
        let own = session.linked
        let sender = node.jidAttribute("from")
        let isOwn = node.tag == "message" && sender.map { $0.user == own.phoneNumber || $0.user == own.lidUser } == true
        session.outstanding.append(Outstanding(sequence: stanza.sequence, envelope: StanzaEnvelope(stanza.node), isOwn: isOwn, sentAt: now))
        self.session = session
        return send(node)
    }

    // MARK: Answers

    /// A `<receipt>` from the device: a delivery receipt answers a message it was given; a retry receipt
    /// asks for it again (it stays queued: the ack that follows answers it); read receipts are not answers.
    mutating func handleReceipt(_ node: Node, now: Date) -> [Action] {
        guard let session else {
            return record(.wrongOrder, "a receipt before login", now: now)
        }
        let type = node.attribute("type")
        if let type, Self.readReceiptTypes.contains(type) {
            return []
        }
        guard let index = session.outstanding.firstIndex(where: { $0.envelope.tag == "message" && $0.envelope.id == node.attributes["id"] }) else {
            return record(.unexpectedAnswer, "a receipt for no message delivered on this connection (id \(Self.shown(node.attributes["id"])))", now: now)
        }
        let stanza = session.outstanding[index]
        if let problem = Self.addressingProblem(node, answering: stanza.envelope) {
            return record(.malformedStanza, "the receipt of message \(Self.shown(stanza.envelope.id)) \(problem); it stays queued", now: now)
        }
        if type == "retry" {
            return retryReceipt(node, for: stanza, now: now)
        }
        let expected: Set<String?> = stanza.isOwn
            ? [stanza.envelope.type == "peer_msg" ? "peer_msg" : "sender"]
            : [nil, "inactive"]
        guard expected.contains(type) else {
            let wanted = expected.map { $0.map { "type=\"\($0)\"" } ?? "no type" }.sorted().joined(separator: " or ")
            return record(
                .malformedStanza,
                "the delivery receipt of message \(Self.shown(stanza.envelope.id)) needs \(wanted), got type=\"\(type ?? "")\"; it stays queued",
                now: now
            )
        }
        return clear(at: index, now: now)
    }

    /// A retry receipt (messaging.md §5.1) for a message delivered here: the world has its sender
    /// encrypt it again. A malformed one is a violation and asks for nothing.
    private func retryReceipt(_ node: Node, for stanza: Outstanding, now: Date) -> [Action] {
        guard let device else {
            return []
        }
        let retry: SimRetryReceipt
        do {
            retry = try SimRetryReceipt(node)
        } catch {
            return record(.malformedStanza, "retry receipt: \(error.detail)", now: now)
        }
        guard retry.messageID == stanza.envelope.id?.description, retry.timestamp == stanza.envelope.timestamp?.description else {
            return record(.malformedStanza, "retry receipt: <retry id t> must be the message's id and t", now: now)
        }
        return [.update(.retry(device, sequence: stanza.sequence, retry, now: now))]
    }

    /// An `<ack>` that is not the answer to a notification the connection sent itself: the answer to a
    /// queued stanza (messaging.md §3.2). `class` is the stanza's tag; `to`, `participant` and `recipient`
    /// are copied; `type` too except on message acks (Baileys copies it there as well). An ack with
    /// `error` refuses the stanza: it is answered here but stays queued (Baileys PR #2779).
    mutating func handleStanzaAck(_ node: Node, now: Date) -> [Action] {
        guard let session else {
            return record(.unexpectedAnswer, "an ack for nothing we sent", now: now)
        }
        let matching = session.outstanding.indices.filter { session.outstanding[$0].envelope.id == node.attributes["id"] }
        guard let first = matching.first else {
            return record(.unexpectedAnswer, "an ack for nothing we sent", now: now)
        }
        // A message and its receipts share an id (a delivery, a read and a retry receipt may all be out): the
        // ack's class and type pick which one it answers.
        let ofClass = matching.filter { session.outstanding[$0].envelope.tag == node.attribute("class") }
        guard let index = ofClass.first(where: { session.outstanding[$0].envelope.type == node.attributes["type"] }) ?? ofClass.first else {
            let tag = session.outstanding[first].envelope.tag
            return record(.malformedStanza, "the ack of \(tag) \(Self.shown(node.attributes["id"])) needs class=\(tag); it stays queued", now: now)
        }
        let stanza = session.outstanding[index]
        if let problem = Self.addressingProblem(node, answering: stanza.envelope) {
            return record(.malformedStanza, "the ack of \(stanza.envelope.tag) \(Self.shown(stanza.envelope.id)) \(problem); it stays queued", now: now)
        }
        let typeCopied = node.attributes["type"] == stanza.envelope.type
        guard typeCopied || (stanza.envelope.tag == "message" && node.attributes["type"] == nil) else {
            return record(
                .malformedStanza,
                "the ack of \(stanza.envelope.tag) \(Self.shown(stanza.envelope.id)) must copy its type; it stays queued", now: now
            )
        }
        if node.attributes["error"] != nil {
            var actions: [Action] = [.update(.note(.stanzaRefused(device: session.device)))]
            var remaining = session
            remaining.outstanding.remove(at: index)
            self.session = remaining
            actions += rescheduleAckDeadline(now: now)
            return actions
        }
        return clear(at: index, now: now)
    }

    /// The stanza at `index` was answered: it leaves the connection and the queue.
    private mutating func clear(at index: Int, now: Date) -> [Action] {
        guard var session else {
            return []
        }
        let stanza = session.outstanding.remove(at: index)
        self.session = session
        return [.update(.answered(session.device, sequence: stanza.sequence))] + rescheduleAckDeadline(now: now)
    }

    /// Which of `to`, `participant` and `recipient` an answer failed to copy from the stanza, if any.
    static func addressingProblem(_ answer: Node, answering envelope: StanzaEnvelope) -> String? {
        let copies: [(String, AttributeValue?)] = [("to", envelope.from), ("participant", envelope.participant), ("recipient", envelope.recipient)]
        for (key, expected) in copies where answer.attributes[key] != expected {
            let source = key == "to" ? "from" : key
            return expected == nil
                ? "has a \(key) the stanza does not"
                : "must copy the stanza's \(source) into \(key) verbatim (\(expected?.description ?? ""))"
        }
        return nil
    }

    /// An attribute for a violation's detail: ids are shown, as the client needs them to find its bug.
    static func shown(_ value: AttributeValue?) -> String {
        value?.description.prefix(64).description ?? "missing"
    }

    // MARK: The ack deadline

    /// Times the oldest unanswered stanza: the deadline timer runs while any is outstanding.
    private func rescheduleAckDeadline(now: Date) -> [Action] {
        guard let oldest = session?.outstanding.first else {
            return [.cancel(.ackDeadline)]
        }
        let elapsed = Duration.milliseconds(Int64(max(0, now.timeIntervalSince(oldest.sentAt)) * 1000))
        return [.schedule(.ackDeadline, after: max(.zero, configuration.ackDeadline - elapsed))]
    }

    /// The oldest stanza stayed unanswered for `ackDeadline`: the server complains with
    /// `<stream:error><ack class id/></stream:error>` and closes (messaging.md §3.4); the stanza stays
    /// queued for the next login.
    mutating func ackDeadlineReached(now: Date) -> [Action] {
        guard let session, let oldest = session.outstanding.first else {
            return []
        }
        let elapsed = Duration.milliseconds(Int64(max(0, now.timeIntervalSince(oldest.sentAt)) * 1000))
        guard elapsed >= configuration.ackDeadline else {
            return rescheduleAckDeadline(now: now)
        }
        var ack: Node.Attributes = ["class": .string(oldest.envelope.tag)]
        ack["id"] = oldest.envelope.id
        return record(.missingAnswer, "no answer to \(oldest.envelope.tag) \(Self.shown(oldest.envelope.id)) within \(configuration.ackDeadline)", now: now)
            + [.update(.note(.ackDeadlineMissed(id, device: session.device)))]
            + send(Node("stream:error", [Node("ack", ack)])) + close()
    }
}
