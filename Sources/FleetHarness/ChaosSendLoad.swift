import Foundation
import NIOHTTP1
import PostgresClient
import Synchronization
import WASim
import WAWire

/// A chaos run's send load (docs/chaos.md): the tenants keep sending through `POST /messages` — to
/// the simulated contacts, 1:1 by phone number, from random paired devices — through the kills,
/// moves, the PostgreSQL restart and the partition. Every request carries an `Idempotency-Key`; a
/// request whose answer was lost (its gateway killed mid-request, the connection refused while it
/// restarts) is asked again with the same key, as a client would. What each request came to is
/// recorded: accepted (202: the message's id, WhatsApp id, device and recipient), refused (a
/// problem+json answer, counted by status and code), or unclear (any other answer, or none after
/// every try: `resolve` looks its key up in PostgreSQL at the end).
final class ChaosSendLoad: Sendable {
    /// A device the load may send from (removed ones too: they answer 409, which is counted).
    struct Sender: Sendable {
        var tenant: GatewayClient.Tenant
        var deviceID: UUID
        var jid: String
    }

    /// The contacts the tenants write to (the message load's, created when it does not run).
    static let contactCount = 8
    /// How long a request whose answer was lost is asked again, and how often.
    static let retryFor = Duration.seconds(30)
    static let retryPause = Duration.seconds(1)

    private let senders: [Sender]
    private let contacts: [String]
    private let recorded = Mutex(Recorded())

    private struct Recorded {
        var accepted: [FleetInvariants.AcceptedSend] = []
        var refused: [String: Int] = [:]
        var unclear: [FleetInvariants.UnclearSend] = []
        var keys: [String: Sender] = [:]
        var requests = 0
        var lostAnswers = 0
    }

    /// The contacts, on `simulator` (the same numbers as the message load's: `contact` finds them).
    init(simulator: Simulator, senders: [Sender]) throws {
        self.senders = senders
        contacts = try (0..<Self.contactCount).map { index in
            try simulator.contact("1555900\(String(format: "%04d", index))", name: "Chaos contact \(index)").phoneNumber
        }
    }

    /// Sends `perSecond` messages a second until cancelled, each from a random device to a random
    /// contact (drawn from `random`); each request runs on its own, so a slow answer does not
    /// slow the stream.
    func run(fleet: GatewayFleet, perSecond: Double, random: inout SeededRandom) async {
        guard perSecond > 0, !senders.isEmpty else { return }
        let pause = Duration.seconds(1 / perSecond)
        await withDiscardingTaskGroup { group in
            var next = ContinuousClock.now
            var number = 0
            while !Task.isCancelled {
                number += 1
                let sender = senders[Int.random(in: 0..<senders.count, using: &random)]
                let contact = contacts[Int.random(in: 0..<contacts.count, using: &random)]
                let text = "chaos send \(number)"
                group.addTask { _ = await self.send(from: sender, to: contact, text: text, fleet: fleet) }
                next += pause
                // A late tick (a busy machine) does not make a burst: the schedule restarts from now.
                if next < ContinuousClock.now { next = ContinuousClock.now }
                try? await Task.sleep(until: next, clock: .continuous)
            }
        }
    }

    /// One `POST /messages` (asked again with its key while the answer is lost); the accepted
    /// message, or nil when it was refused or its answer stayed unclear.
    func send(from sender: Sender, to contact: String, text: String, fleet: GatewayFleet) async -> FleetInvariants.AcceptedSend? {
        let key = "chaos-" + UUID().uuidString.lowercased()
        recorded.withLock {
            $0.keys[key] = sender
            $0.requests += 1
        }
        let deadline = ContinuousClock.now + Self.retryFor
        var lastProblem = "no answer"
        while true {
            do {
                let reply = try await fleet.client().sendMessage(
                    sender.tenant, deviceID: sender.deviceID, to: "+" + contact, text: text, idempotencyKey: key, timeout: .seconds(20)
                )
                let json = reply.json
                if reply.status == 202, let id = json["id"] as? String, let waID = json["wa_id"] as? String {
                    let accepted = FleetInvariants.AcceptedSend(
                        id: id, waID: waID, deviceID: sender.deviceID, device: sender.jid, recipient: contact, key: key
                    )
                    recorded.withLock { $0.accepted.append(accepted) }
                    return accepted
                }
                let isProblem = reply.headers.first(name: "Content-Type")?.hasPrefix("application/problem+json") == true
                if isProblem, let code = json["code"] as? String {
                    recorded.withLock { $0.refused["\(reply.status) \(code)", default: 0] += 1 }
                    return nil
                }
                lastProblem = "answered \(reply.status) without a problem+json body: \(reply.body.prefix(200))"
                recorded.withLock { $0.unclear.append(.init(key: key, problem: lastProblem)) }
                return nil
            } catch {
                // The gateway died or restarts: the request may or may not have been queued. The
                // same key asks again; the answer says which.
                lastProblem = "\(error)"
                recorded.withLock { $0.lostAnswers += 1 }
            }
            guard ContinuousClock.now < deadline, !Task.isCancelled else { break }
            try? await Task.sleep(for: Self.retryPause)
        }
        recorded.withLock { $0.unclear.append(.init(key: key, problem: "no answer within \(Self.retryFor): \(lastProblem)")) }
        return nil
    }

    /// What the load did so far.
    var figures: (accepted: [FleetInvariants.AcceptedSend], refused: [String: Int], unclear: [FleetInvariants.UnclearSend], requests: Int, lostAnswers: Int) {
        recorded.withLock { ($0.accepted, $0.refused, $0.unclear, $0.requests, $0.lostAnswers) }
    }

    /// The messages PostgreSQL holds for every key the load used (whatever the answer said), by key.
    func queuedByKey(_ pool: PostgresPool) async throws -> [String: FleetInvariants.AcceptedSend] {
        let keys = recorded.withLock { $0.keys }
        let rows = try await pool.query(
            "SELECT idempotency_key, id, wa_id, recipient FROM messages WHERE direction = 'out' AND idempotency_key = ANY ($1::text[])",
            [PostgresArray(Array(keys.keys))]
        )
        var found: [String: FleetInvariants.AcceptedSend] = [:]
        for row in rows {
            let key: String = try row.decode(0)
            guard let sender = keys[key] else { continue }
            let id: UUID = try row.decode(1)
            let recipient: String = try row.decode(3)
            found[key] = FleetInvariants.AcceptedSend(
                id: id.uuidString.lowercased(), waID: try row.decode(2), deviceID: sender.deviceID, device: sender.jid,
                recipient: recipient.hasPrefix("+") ? String(recipient.dropFirst()) : recipient, key: key
            )
        }
        return found
    }
}
