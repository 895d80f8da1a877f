import Foundation
import PostgresClient

/// The message invariants (docs/chaos.md): what the simulator sent and what its queues hold,
/// against the inbox PostgreSQL holds. Pure functions of what was read, so their tests can make
/// them fail.
extension FleetInvariants {
    /// One message a simulated contact sent, as the simulator reported it.
    public struct SentMessage: Sendable, Hashable, Codable {
        /// The WhatsApp id every copy carries.
        public var id: String
        /// The chat and the sending device as the linked devices see them (`from`, `participant`).
        public var chat: String
        public var sender: String
        /// The linked devices (JIDs) a copy was queued for.
        public var devices: [String]

        public init(id: String, chat: String, sender: String, devices: [String]) {
            self.id = id
            self.chat = chat
            self.sender = sender
            self.devices = devices
        }
    }

    /// A copy of a message one of the fleet's devices sent, which the server relayed to another
    /// device of the same account (a DeviceSentMessage: the send load's 1:1 messages).
    public struct RelayedCopy: Sendable, Hashable, Codable {
        public var id: String
        /// The sibling device's JID.
        public var device: String

        public init(id: String, device: String) {
            self.id = id
            self.device = device
        }
    }

    /// One inbox key (direction `in`) and how many rows hold it.
    public struct StoredMessage: Sendable, Hashable, Codable {
        public var device: UUID
        public var chat: String
        public var sender: String
        public var id: String
        public var rows: Int

        public init(device: UUID, chat: String, sender: String, id: String, rows: Int) {
            self.device = device
            self.chat = chat
            self.sender = sender
            self.id = id
            self.rows = rows
        }
    }

    /// The simulator's delivery figures (WASim's `SimStatsSnapshot`), as plain values.
    public struct DeliveryView: Sendable, Hashable, Codable {
        public var offered: Int
        public var acked: Int
        public var redelivered: Int
        public var retried: Int
        public var ackDeadlineClosures: Int
        /// Answers the simulator refused (`unexpected_answer`) or waited for in vain (`missing_answer`).
        public var answerViolations: [String: Int]
        /// Per device JID: stanzas queued and not answered at the end, and the oldest one's age.
        public var pending: [String: Int]
        public var oldestPendingSeconds: [String: Double]

        public init(
            offered: Int, acked: Int, redelivered: Int, retried: Int, ackDeadlineClosures: Int, answerViolations: [String: Int],
            pending: [String: Int], oldestPendingSeconds: [String: Double]
        ) {
            self.offered = offered
            self.acked = acked
            self.redelivered = redelivered
            self.retried = retried
            self.ackDeadlineClosures = ackDeadlineClosures
            self.answerViolations = answerViolations
            self.pending = pending
            self.oldestPendingSeconds = oldestPendingSeconds
        }
    }

    /// Every message check.
    public static func messageChecks(
        sent: [SentMessage], stored: [StoredMessage], delivery: DeliveryView, run: RunRecord, relayed: [RelayedCopy] = []
    ) -> [Check] {
        [inboxExactlyOnce(sent: sent, stored: stored, run: run, relayed: relayed), nothingLeftUnacked(delivery, run: run)]
    }

    /// Every copy the simulator queued for a device the run kept is in that device's inbox exactly
    /// once (the kept devices' queues are empty at the end, so every copy was delivered and
    /// answered); a removed device holds only copies that were sent to it, once each; the inbox
    /// holds nothing that was never sent. A copy of the fleet's own send that the server relayed
    /// to a sibling device (`relayed`) may be in that device's inbox, once.
    public static func inboxExactlyOnce(sent: [SentMessage], stored: [StoredMessage], run: RunRecord, relayed: [RelayedCopy] = []) -> Check {
        let kept = Dictionary(run.kept.map { ($0.jid, $0.deviceID) }, uniquingKeysWith: { first, _ in first })
        let removed = Dictionary(run.removed.map { ($0.jid, $0.deviceID) }, uniquingKeysWith: { first, _ in first })
        struct Key: Hashable {
            var device: UUID
            var chat: String
            var sender: String
            var id: String
        }
        var expected = Set<Key>(), allowed = Set<Key>()
        for message in sent {
            for jid in message.devices {
                if let device = kept[jid] {
                    expected.insert(Key(device: device, chat: message.chat, sender: message.sender, id: message.id))
                } else if let device = removed[jid] {
                    allowed.insert(Key(device: device, chat: message.chat, sender: message.sender, id: message.id))
                }
            }
        }
        struct Copy: Hashable {
            var device: UUID
            var id: String
        }
        let relayedCopies = Set(relayed.compactMap { copy in (kept[copy.device] ?? removed[copy.device]).map { Copy(device: $0, id: copy.id) } })
        var problems: [String] = []
        var found = Set<Key>()
        var removedStored = 0, relayedStored = 0
        for row in stored {
            let key = Key(device: row.device, chat: row.chat, sender: row.sender, id: row.id)
            if row.rows != 1 { problems.append("\(row.id) from \(row.sender) stored \(row.rows) times for device \(row.device)") }
            if expected.contains(key) {
                found.insert(key)
            } else if allowed.contains(key) {
                removedStored += 1
            } else if relayedCopies.contains(Copy(device: row.device, id: row.id)) {
                relayedStored += 1
            } else {
                problems.append("\(row.id) from \(row.sender) in \(row.chat) is in the inbox of device \(row.device) but was never sent to it")
            }
        }
        for key in expected.subtracting(found).sorted(by: { ($0.id, $0.device.uuidString) < ($1.id, $1.device.uuidString) }) {
            problems.append("\(key.id) from \(key.sender) never reached the inbox of device \(key.device)")
        }
        return Check(
            name: "every delivered message in the inbox exactly once",
            passed: problems.isEmpty && !expected.isEmpty,
            detail: "\(sent.count) messages sent; \(found.count)/\(expected.count) copies for kept devices stored once, "
                + "\(removedStored) for removed devices" + (relayed.isEmpty ? "" : "; \(relayedStored) of \(relayed.count) relayed copies of the fleet's own sends")
                + summary(problems)
        )
    }

    /// No connection was closed for leaving a stanza unanswered past the simulator's ack deadline,
    /// the simulator refused no answer, and the kept devices' queues are empty at the end.
    public static func nothingLeftUnacked(_ delivery: DeliveryView, run: RunRecord) -> Check {
        var problems: [String] = []
        if delivery.ackDeadlineClosures > 0 {
            problems.append("\(delivery.ackDeadlineClosures) connections closed by the ack deadline")
        }
        for (kind, count) in delivery.answerViolations.sorted(by: { $0.key < $1.key }) where count > 0 {
            problems.append("\(count) \(kind) violations")
        }
        for device in run.kept {
            if let pending = delivery.pending[device.jid], pending > 0 {
                let age = delivery.oldestPendingSeconds[device.jid].map { String(format: ", the oldest %.0f s", $0) } ?? ""
                problems.append("\(device.jid) has \(pending) stanzas unanswered\(age)")
            }
        }
        return Check(
            name: "no stanza left unacked",
            passed: problems.isEmpty && delivery.offered > 0,
            detail: "\(delivery.offered) stanzas offered (\(delivery.redelivered) again after a connection ended), \(delivery.acked) answered, "
                + "\(delivery.retried) retried; ack-deadline closures \(delivery.ackDeadlineClosures)" + summary(problems)
        )
    }

    // MARK: Reading PostgreSQL

    /// Every inbox key of direction `in`, with its row count.
    public static func storedMessages(_ pool: PostgresPool) async throws -> [StoredMessage] {
        try await pool.query("""
            SELECT device_id, chat, sender, wa_id, count(*)::bigint FROM messages WHERE direction = 'in'
            GROUP BY device_id, chat, sender, wa_id
            """).map { row in
            StoredMessage(
                device: try row.decode(0), chat: try row.decode(1), sender: try row.decode(2), id: try row.decode(3),
                rows: Int(try row.decode(4, as: Int64.self))
            )
        }
    }
}
