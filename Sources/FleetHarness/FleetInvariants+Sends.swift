import Foundation
import PostgresClient
import WASim

/// The send invariants (docs/chaos.md): what `POST /messages` accepted, what the outbox and its
/// send log (`message_attempts`) hold, and what the simulated contacts read, on which connection.
/// Pure functions of what was read, so their tests can make them fail.
extension FleetInvariants {
    /// A message `POST /messages` accepted (202), or whose answer was lost and whose key PostgreSQL holds.
    public struct AcceptedSend: Sendable, Hashable, Codable {
        /// The message's id in the API, and its WhatsApp id.
        public var id: String
        public var waID: String
        public var deviceID: UUID
        /// The sending device's JID.
        public var device: String
        /// The contact's phone number (digits).
        public var recipient: String
        /// The request's Idempotency-Key.
        public var key: String

        public init(id: String, waID: String, deviceID: UUID, device: String, recipient: String, key: String) {
            self.id = id
            self.waID = waID
            self.deviceID = deviceID
            self.device = device
            self.recipient = recipient
            self.key = key
        }
    }

    /// A request without a clear answer: an answer that is neither 202 nor problem+json, or none at all.
    public struct UnclearSend: Sendable, Hashable, Codable {
        public var key: String
        public var problem: String

        public init(key: String, problem: String) {
            self.key = key
            self.problem = problem
        }

        /// No answer came (the gateway was down each time): not a fault of the API.
        public var unanswered: Bool { problem.hasPrefix("no answer") }
    }

    /// What the send load did: its accepted messages and refused requests, and what PostgreSQL holds for its keys.
    public struct SendLoadView: Sendable, Hashable, Codable {
        public var requests: Int
        /// Answered 202.
        public var accepted: [AcceptedSend]
        /// Refused with a problem+json answer, by `"<status> <code>"`.
        public var refused: [String: Int]
        public var unclear: [UnclearSend]
        /// Every message PostgreSQL holds for the load's keys, by key.
        public var queuedByKey: [String: AcceptedSend]

        public init(requests: Int, accepted: [AcceptedSend], refused: [String: Int], unclear: [UnclearSend], queuedByKey: [String: AcceptedSend]) {
            self.requests = requests
            self.accepted = accepted
            self.refused = refused
            self.unclear = unclear
            self.queuedByKey = queuedByKey
        }

        /// The accepted messages, and those whose answer was lost but which PostgreSQL queued.
        public var messages: [AcceptedSend] {
            let answered = Set(accepted.map(\.key))
            let lost = unclear.compactMap { queuedByKey[$0.key] }.filter { !answered.contains($0.key) }
            return accepted + lost
        }
    }

    /// An outbound row at the end.
    public struct OutboundRow: Sendable, Hashable, Codable {
        public var waID: String
        public var status: String
        public var failureReason: String?
        public var attempts: Int

        public init(waID: String, status: String, failureReason: String?, attempts: Int) {
            self.waID = waID
            self.status = status
            self.failureReason = failureReason
            self.attempts = attempts
        }
    }

    /// One row of the send log: an attempt committed, fenced by a lease, before its stanza was written.
    public struct SendAttempt: Sendable, Hashable, Codable {
        public var waID: String
        /// The sending device's JID.
        public var device: String
        public var attempt: Int
        public var instance: String
        public var epoch: Int64
        /// The lease's expiry as the attempt's transaction read it.
        public var leaseExpiresAt: Date?
        /// The local address of the connection the stanza was written on.
        public var connection: String?
        public var committedAt: Date

        public init(
            waID: String, device: String, attempt: Int, instance: String, epoch: Int64, leaseExpiresAt: Date?, connection: String?, committedAt: Date
        ) {
            self.waID = waID
            self.device = device
            self.attempt = attempt
            self.instance = instance
            self.epoch = epoch
            self.leaseExpiresAt = leaseExpiresAt
            self.connection = connection
            self.committedAt = committedAt
        }
    }

    /// An instance that wrote a device's history under one lease epoch, and when it first did.
    public struct EpochHolder: Sendable, Hashable, Codable {
        public var device: String
        public var epoch: Int64
        public var instance: String
        public var firstAt: Date

        public init(device: String, epoch: Int64, instance: String, firstAt: Date) {
            self.device = device
            self.epoch = epoch
            self.instance = instance
            self.firstAt = firstAt
        }
    }

    /// Every send check.
    public static func sendChecks(
        load: SendLoadView, outbound: [String: OutboundRow], arrivals: [SimArrival], attempts: [SendAttempt], holders: [EpochHolder],
        run: RunRecord
    ) -> [Check] {
        [
            sendsExactlyOnce(load: load, outbound: outbound, arrivals: arrivals, run: run),
            sentUnderLease(arrivals: arrivals, attempts: attempts, holders: holders),
        ]
    }

    /// Every message the API accepted reached its contact exactly once by WhatsApp id, unless it
    /// failed with a reason: no accepted message is left queued, none that is sent/delivered/read
    /// is missing at its contact, no contact read an id that was never accepted or was for another
    /// contact, and a kept device recorded its contact's receipts (delivered or read). Redeliveries
    /// of the same id (a resend after a crash or a lost ack; the contact drops the id) are counted.
    /// Every answer was 202 or problem+json, and no refused request was queued all the same.
    public static func sendsExactlyOnce(load: SendLoadView, outbound: [String: OutboundRow], arrivals: [SimArrival], run: RunRecord) -> Check {
        var problems: [String] = []
        let messages = load.messages
        let byID = Dictionary(messages.map { ($0.waID, $0) }, uniquingKeysWith: { first, _ in first })
        let kept = Set(run.kept.map(\.jid))
        var received: [String: Int] = [:], redelivered = 0, otherOutcomes: [String: Int] = [:]
        for arrival in arrivals where arrival.contact != nil {
            guard let message = byID[arrival.id] else {
                problems.append("contact \(arrival.contact ?? "?") read \(arrival.id) from \(arrival.device), which the API never accepted")
                continue
            }
            guard arrival.contact == message.recipient else {
                problems.append("\(arrival.id) for \(message.recipient) reached contact \(arrival.contact ?? "?")")
                continue
            }
            switch arrival.outcome {
            case .received: received[arrival.id, default: 0] += 1
            case .duplicate: redelivered += 1
            default: otherOutcomes[arrival.outcome.rawValue, default: 0] += 1
            }
        }
        var byStatus: [String: Int] = [:], failedByReason: [String: Int] = [:], failedAfterReaching = 0, once = 0
        for message in messages {
            guard let row = outbound[message.waID] else {
                problems.append("\(message.waID) (\(message.id)) was accepted but is not in the outbox")
                continue
            }
            byStatus[row.status, default: 0] += 1
            let count = received[message.waID, default: 0]
            switch row.status {
            case "queued":
                problems.append("\(message.waID) from \(message.device) is still queued")
            case "failed":
                if let reason = row.failureReason, !reason.isEmpty {
                    failedByReason[reason, default: 0] += 1
                } else {
                    problems.append("\(message.waID) failed without a reason")
                }
                if count > 0 { failedAfterReaching += 1 }
            default:
                if count == 0 {
                    problems.append("\(message.waID) from \(message.device) is \(row.status) but never reached \(message.recipient)")
                } else if count > 1 {
                    problems.append("\(message.waID) reached \(message.recipient) as a new message \(count) times")
                } else {
                    once += 1
                    if kept.contains(message.device), row.status == "sent" {
                        problems.append("\(message.waID) reached \(message.recipient), whose receipt \(message.device) never recorded (still sent)")
                    }
                }
            }
        }
        let accepted = Set(messages.map(\.key))
        for (key, message) in load.queuedByKey.sorted(by: { $0.key < $1.key }) where !accepted.contains(key) {
            problems.append("the request with key \(key) was refused, yet \(message.waID) was queued")
        }
        for unclear in load.unclear where !unclear.unanswered {
            problems.append("a request got an answer that is neither 202 nor problem+json: \(unclear.problem)")
        }
        let lost = load.unclear.filter(\.unanswered).count
        return Check(
            name: "every accepted message reached its contact exactly once",
            passed: problems.isEmpty && !messages.isEmpty,
            detail: "\(load.requests) requests: \(load.accepted.count) accepted, "
                + "refused \(load.refused.values.reduce(0, +))" + (load.refused.isEmpty ? "" : " (" + load.refused.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") + ")")
                + ", \(lost) unanswered (\(messages.count - load.accepted.count) of them queued all the same); "
                + "statuses " + byStatus.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                + "; \(once) read once by their contact, \(redelivered) redeliveries of an id the contact had"
                + (failedByReason.isEmpty ? "" : "; failed: " + failedByReason.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                + (failedAfterReaching > 0 ? " (\(failedAfterReaching) after reaching the contact)" : "")
                + (otherOutcomes.isEmpty ? "" : "; " + otherOutcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                + summary(problems)
        )
    }

    /// No message was sent by an instance that did not hold the device's lease. Every copy the
    /// simulator read came on a connection whose address the last attempt of that message committed
    /// before it names (so that attempt's instance wrote it, after its fenced commit); that
    /// attempt's lease epoch belongs to that instance alone (the device's history and every other
    /// attempt agree); the server read it before the lease expiry the attempt's transaction saw, and
    /// before any later epoch of the device began. With one logged-in connection per device (its own
    /// invariant), no other instance could have been sending for the device at that moment.
    public static func sentUnderLease(arrivals: [SimArrival], attempts: [SendAttempt], holders: [EpochHolder]) -> Check {
        var problems: [String] = []
        let attemptsByID = Dictionary(grouping: attempts, by: \.waID).mapValues { $0.sorted { $0.committedAt < $1.committedAt } }
        struct EpochKey: Hashable {
            var device: String
            var epoch: Int64
        }
        var owners: [EpochKey: Set<String>] = [:]
        var epochStarts: [String: [(epoch: Int64, at: Date)]] = [:]
        for holder in holders {
            owners[EpochKey(device: holder.device, epoch: holder.epoch), default: []].insert(holder.instance)
            epochStarts[holder.device, default: []].append((holder.epoch, holder.firstAt))
        }
        for attempt in attempts {
            owners[EpochKey(device: attempt.device, epoch: attempt.epoch), default: []].insert(attempt.instance)
            epochStarts[attempt.device, default: []].append((attempt.epoch, attempt.committedAt))
        }
        for (key, instances) in owners.sorted(by: { ($0.key.device, $0.key.epoch) < ($1.key.device, $1.key.epoch) }) where instances.count > 1 {
            problems.append("\(key.device)'s lease epoch \(key.epoch) was used by \(instances.sorted().joined(separator: " and "))")
        }
        var checked = 0
        var instancesSeen = Set<String>()
        for arrival in arrivals {
            checked += 1
            guard let peer = arrival.peer else {
                problems.append("\(arrival.id) came on connection \(arrival.connection), whose address is unknown")
                continue
            }
            // Committed before the server read it (the same machine's clock; a millisecond of rounding allowed).
            guard let attempt = attemptsByID[arrival.id]?.last(where: { $0.committedAt <= arrival.at.addingTimeInterval(0.001) }) else {
                problems.append("\(arrival.id) from \(arrival.device) reached the server with no attempt committed before it")
                continue
            }
            guard attempt.connection == peer else {
                problems.append("\(arrival.id) came from \(peer), but its last attempt (\(attempt.instance), epoch \(attempt.epoch)) was for \(attempt.connection ?? "no connection")")
                continue
            }
            instancesSeen.insert(attempt.instance)
            if let expiry = attempt.leaseExpiresAt, arrival.at >= expiry {
                problems.append("\(arrival.id) reached the server at \(arrival.at), after the lease of epoch \(attempt.epoch) expired (\(expiry))")
            }
            if let later = epochStarts[attempt.device]?.filter({ $0.epoch > attempt.epoch }).map(\.at).min(), later < arrival.at {
                problems.append("\(arrival.id) reached the server after a later lease epoch of \(attempt.device) began (sent under epoch \(attempt.epoch) by \(attempt.instance))")
            }
        }
        return Check(
            name: "no message sent without the device's lease",
            passed: problems.isEmpty && checked > 0,
            detail: "\(checked) copies read by the simulated phones, each matched to its fenced attempt (\(attempts.count) attempts, "
                + "\(attempts.filter { $0.attempt > 1 }.count) of them resends) by \(instancesSeen.count) instances; "
                + "\(owners.count) device lease epochs, each held by one instance" + summary(problems)
        )
    }

    // MARK: Reading PostgreSQL

    /// Every outbound row, by WhatsApp id.
    public static func outboundRows(_ pool: PostgresPool) async throws -> [String: OutboundRow] {
        let rows = try await pool.query("SELECT wa_id, status, failure_reason, attempts FROM messages WHERE direction = 'out'")
        var result: [String: OutboundRow] = [:]
        for row in rows {
            let waID: String = try row.decode(0)
            result[waID] = OutboundRow(waID: waID, status: try row.decode(1), failureReason: try row.decode(2), attempts: Int(try row.decode(3, as: Int32.self)))
        }
        return result
    }

    /// The send log, with each attempt's device JID.
    public static func sendAttempts(_ pool: PostgresPool) async throws -> [SendAttempt] {
        try await pool.query("""
            SELECT m.wa_id, m.sender, a.attempt, a.instance, a.lease_epoch, a.lease_expires_at, a.connection, a.committed_at
            FROM message_attempts a JOIN messages m ON m.id = a.message_id
            """).map { row in
            SendAttempt(
                waID: try row.decode(0), device: try row.decode(1), attempt: Int(try row.decode(2, as: Int32.self)), instance: try row.decode(3),
                epoch: try row.decode(4), leaseExpiresAt: try row.decode(5), connection: try row.decode(6), committedAt: try row.decode(7)
            )
        }
    }

    /// Per device JID and lease epoch, the instances that wrote its history, and when first.
    public static func epochHolders(_ pool: PostgresPool) async throws -> [EpochHolder] {
        try await pool.query("""
            SELECT d.jid, t.lease_epoch, t.instance, min(t.at) FROM state_transitions t JOIN devices d ON d.id = t.device_id
            WHERE t.lease_epoch IS NOT NULL AND d.jid IS NOT NULL GROUP BY 1, 2, 3
            """).map { row in
            EpochHolder(device: try row.decode(0), epoch: try row.decode(1), instance: try row.decode(2), firstAt: try row.decode(3))
        }
    }
}
