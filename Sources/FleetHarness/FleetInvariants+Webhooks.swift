import Foundation
import PostgresClient
import Webhooks

/// The webhook invariants (docs/chaos.md): what the receiver got against what PostgreSQL
/// committed. Each is a pure function of what was read, so its tests can make it fail.
extension FleetInvariants {
    /// One request as the run's receiver got it.
    public struct ReceivedWebhook: Sendable, Hashable {
        /// The receiver path, one per tenant's endpoint.
        public var path: String
        /// `webhook-id`.
        public var id: String
        public var accepted: Bool
        /// Its signature verified with its endpoint's secret at the time it came.
        public var authentic: Bool
        public var body: [UInt8]

        public init(path: String, id: String, accepted: Bool, authentic: Bool, body: [UInt8]) {
            self.path = path
            self.id = id
            self.accepted = accepted
            self.authentic = authentic
            self.body = body
        }
    }

    /// An event in the outbox, with its deliveries' statuses.
    public struct CommittedEvent: Sendable, Hashable {
        public var id: String
        public var tenant: UUID
        public var device: UUID?
        public var stream: UUID
        public var sequence: Int64
        public var body: [UInt8]
        /// The status of each of its deliveries.
        public var deliveries: [String]

        public init(id: String, tenant: UUID, device: UUID?, stream: UUID, sequence: Int64, body: [UInt8], deliveries: [String]) {
            self.id = id
            self.tenant = tenant
            self.device = device
            self.stream = stream
            self.sequence = sequence
            self.body = body
            self.deliveries = deliveries
        }

        public var event: WebhookEvent? { try? WebhookEvent(jsonBody: body) }
    }

    /// A pairing session as the events describe it: codes counted, and its outcome once ended.
    public struct PairingChange: Sendable, Hashable {
        public var codes: Int
        public var outcome: String?

        public init(codes: Int, outcome: String?) {
            self.codes = codes
            self.outcome = outcome
        }
    }

    /// The changes events describe, as PostgreSQL holds them.
    public struct Changes: Sendable, Hashable {
        /// Per device, its history rows in order: `from→to`.
        public var transitions: [UUID: [String]]
        public var pairings: [UUID: PairingChange]

        public init(transitions: [UUID: [String]], pairings: [UUID: PairingChange]) {
            self.transitions = transitions
            self.pairings = pairings
        }
    }

    /// Every webhook check; `paths` maps a tenant to its endpoint's receiver path.
    public static func webhookChecks(committed: [CommittedEvent], received: [ReceivedWebhook], paths: [UUID: String], changes: Changes) -> [Check] {
        [
            webhooksDelivered(committed: committed, received: received, paths: paths),
            webhooksInOrder(committed: committed, received: received),
            webhooksAuthentic(received),
            webhooksMatchChanges(committed: committed, changes: changes),
        ]
    }

    /// Every event committed for an endpoint reached it at least once, accepted, byte for byte as
    /// stored; no delivery is left pending or failed (kills and moves lose nothing).
    public static func webhooksDelivered(committed: [CommittedEvent], received: [ReceivedWebhook], paths: [UUID: String]) -> Check {
        var accepted: [String: [ReceivedWebhook]] = [:]
        for request in received where request.accepted { accepted[request.path + " " + request.id, default: []].append(request) }
        var problems: [String] = []
        var delivered = 0, expected = 0
        for event in committed where !event.deliveries.isEmpty {
            expected += 1
            let unfinished = event.deliveries.filter { $0 != "delivered" }
            if !unfinished.isEmpty { problems.append("\(event.id) has deliveries \(unfinished.joined(separator: ", "))") }
            guard let path = paths[event.tenant] else {
                problems.append("\(event.id) belongs to a tenant without a receiver")
                continue
            }
            guard let copies = accepted[path + " " + event.id] else {
                problems.append("\(event.id) never reached \(path)")
                continue
            }
            if copies.contains(where: { $0.body != event.body }) { problems.append("\(event.id) arrived with other bytes than stored") }
            delivered += 1
        }
        let requests = received.count, duplicates = accepted.values.reduce(0) { $0 + max(0, $1.count - 1) }
        return Check(
            name: "every committed event delivered",
            passed: problems.isEmpty && expected > 0,
            detail: "\(delivered)/\(expected) events delivered; \(requests) requests, \(duplicates) accepted twice or more (at least once)"
                + summary(problems)
        )
    }

    /// Per endpoint and device, events arrived in the order they were committed: every request
    /// (retries and duplicates included) carries a sequence number no lower than the one before.
    public static func webhooksInOrder(committed: [CommittedEvent], received: [ReceivedWebhook]) -> Check {
        let byID = Dictionary(committed.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var last: [String: (sequence: Int64, id: String)] = [:]
        var problems: [String] = []
        var streams = Set<String>()
        for request in received {
            guard let event = byID[request.id] else {
                problems.append("\(request.id) at \(request.path) is no committed event")
                continue
            }
            let key = request.path + " " + event.stream.uuidString
            streams.insert(key)
            if let previous = last[key], previous.sequence > event.sequence {
                problems.append("\(request.id) (#\(event.sequence)) came after \(previous.id) (#\(previous.sequence)) at \(request.path)")
            } else {
                last[key] = (event.sequence, request.id)
            }
        }
        return Check(
            name: "webhooks in commit order per device",
            passed: problems.isEmpty,
            detail: "\(received.count) requests over \(streams.count) (endpoint, device) streams" + summary(problems)
        )
    }

    /// Every request carried a signature its endpoint's secret verifies.
    public static func webhooksAuthentic(_ received: [ReceivedWebhook]) -> Check {
        let forged = received.filter { !$0.authentic }
        return Check(
            name: "every webhook signed",
            passed: forged.isEmpty,
            detail: "\(received.count - forged.count)/\(received.count) requests verified (Standard Webhooks)"
                + summary(forged.map { "\($0.id) at \($0.path)" })
        )
    }

    /// Events and changes match one to one: per device the `device.state` events are its history
    /// rows in order (no event for a rolled-back change, no change without its event); per
    /// pairing one `pairing.updated` per counted code and one `pairing.ended` with its outcome
    /// once it ended; a `device.logged_out` per move into `logged_out`.
    public static func webhooksMatchChanges(committed: [CommittedEvent], changes: Changes) -> Check {
        var states: [UUID: [String]] = [:], codes: [UUID: Int] = [:], ends: [UUID: [String]] = [:], logouts: [UUID: Int] = [:]
        var problems: [String] = []
        for committedEvent in committed.sorted(by: { ($0.stream.uuidString, $0.sequence) < ($1.stream.uuidString, $1.sequence) }) {
            guard let event = committedEvent.event else {
                problems.append("\(committedEvent.id) is not a readable event")
                continue
            }
            switch event.data {
            case .deviceState(let change): states[event.deviceID ?? UUID(), default: []].append("\(change.from)→\(change.to)")
            case .pairingUpdated(let update): codes[update.pairingID, default: 0] += 1
            case .pairingEnded(let end): ends[end.pairingID, default: []].append(end.outcome.rawValue)
            case .deviceLoggedOut: logouts[event.deviceID ?? UUID(), default: 0] += 1
            case .endpointDisabled, .messageReceived, .messageStatus: break
            }
        }
        for device in Set(states.keys).union(changes.transitions.keys) where states[device] ?? [] != changes.transitions[device] ?? [] {
            problems.append("device \(device): events \((states[device] ?? []).joined(separator: " ")) for history \((changes.transitions[device] ?? []).joined(separator: " "))")
        }
        for pairing in Set(codes.keys).union(ends.keys).union(changes.pairings.keys) {
            let stored = changes.pairings[pairing]
            if codes[pairing, default: 0] != stored?.codes ?? 0 {
                problems.append("pairing \(pairing): \(codes[pairing, default: 0]) pairing.updated for \(stored?.codes ?? 0) codes")
            }
            if ends[pairing] ?? [] != (stored?.outcome.map { [$0] } ?? []) {
                problems.append("pairing \(pairing): ended \((ends[pairing] ?? []).joined(separator: ", ")) for outcome \(stored?.outcome ?? "none")")
            }
        }
        for device in Set(logouts.keys).union(changes.transitions.keys) {
            let moves = (changes.transitions[device] ?? []).filter { $0.hasSuffix("→logged_out") }.count
            if logouts[device, default: 0] != moves { problems.append("device \(device): \(logouts[device, default: 0]) device.logged_out for \(moves) logouts") }
        }
        let transitions = changes.transitions.values.reduce(0) { $0 + $1.count }
        return Check(
            name: "events and changes one to one",
            passed: problems.isEmpty,
            detail: "\(transitions) transitions, \(codes.values.reduce(0, +)) codes, \(changes.pairings.values.filter { $0.outcome != nil }.count) ended pairings, "
                + "\(logouts.values.reduce(0, +)) logouts, each with its event" + summary(problems)
        )
    }

    // MARK: Reading PostgreSQL

    /// The outbox, with each event's deliveries.
    public static func committedEvents(_ pool: PostgresPool) async throws -> [CommittedEvent] {
        try await pool.query("""
            SELECT ev.id, ev.tenant_id, ev.device_id, ev.stream_id, ev.sequence, ev.body,
                   coalesce(array_agg(d.status ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), '{}') AS deliveries
            FROM webhook_events ev LEFT JOIN webhook_deliveries d ON d.event_id = ev.id
            GROUP BY ev.id ORDER BY ev.position
            """).map { row in
            CommittedEvent(
                id: EventID(uuid: try row.decode("id")).description, tenant: try row.decode("tenant_id"), device: try row.decode("device_id"),
                stream: try row.decode("stream_id"), sequence: try row.decode("sequence"), body: try row.decode("body"),
                deliveries: try row.decode("deliveries", as: PostgresArray<String>.self).elements
            )
        }
    }

    /// The history rows and pairing sessions the events describe.
    public static func changes(_ pool: PostgresPool) async throws -> Changes {
        var transitions: [UUID: [String]] = [:]
        for row in try await pool.query("SELECT device_id, from_state, to_state FROM state_transitions ORDER BY id") {
            transitions[try row.decode(0), default: []].append("\(try row.decode(1, as: String.self))→\(try row.decode(2, as: String.self))")
        }
        var pairings: [UUID: PairingChange] = [:]
        for row in try await pool.query("SELECT id, qr_count, outcome FROM pairing_sessions") {
            pairings[try row.decode(0)] = PairingChange(codes: try row.decode(1), outcome: try row.decode(2))
        }
        return Changes(transitions: transitions, pairings: pairings)
    }
}
