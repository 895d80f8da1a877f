import Foundation
import Synchronization
import WASim
import WAWire

/// A chaos run's message load (docs/chaos.md): simulated contacts keep writing to the tenants'
/// accounts — 1:1 by LID, 1:1 by phone number, and in a group per account — through the kills,
/// moves and the PostgreSQL restart. Every send is recorded with the devices a copy was queued
/// for, which is what the inbox invariant holds the gateways to.
final class ChaosMessageLoad: Sendable {
    /// Contacts writing (each is in some accounts' groups).
    static let contactCount = 8

    private let accounts: [String]
    private let contacts: [String]
    /// Per account, its group and the members who write there.
    private let groups: [String: (id: String, members: [String])]
    private let recorded = Mutex(Recorded())

    private struct Recorded {
        var sent: [FleetInvariants.SentMessage] = []
        var failures = 0
    }

    /// Creates the contacts and one group of two contacts per account on `simulator`.
    init(simulator: Simulator, accounts: [String]) throws {
        self.accounts = accounts
        var contacts: [String] = []
        for index in 0..<Self.contactCount {
            contacts.append(try simulator.contact("1555900\(String(format: "%04d", index))", name: "Chaos contact \(index)").phoneNumber)
        }
        self.contacts = contacts
        var groups: [String: (id: String, members: [String])] = [:]
        for (index, account) in accounts.enumerated() {
            let members = [contacts[index % contacts.count], contacts[(index + 1) % contacts.count]]
            let group = try simulator.createGroup(account: account, members: members, subject: "Chaos \(index)")
            groups[account] = (group.id, members)
        }
        self.groups = groups
    }

    /// Sends `perSecond` messages a second (a third of each kind) until cancelled, drawing
    /// accounts, senders and kinds from `random`.
    func run(simulator: Simulator, perSecond: Double, random: inout SeededRandom) async {
        guard perSecond > 0, !accounts.isEmpty else { return }
        let pause = Duration.seconds(1 / perSecond)
        var next = ContinuousClock.now
        var number = 0
        while !Task.isCancelled {
            number += 1
            let account = accounts[Int.random(in: 0..<accounts.count, using: &random)]
            let text = "chaos message \(number)"
            do {
                let sent: SimSent
                switch Int.random(in: 0..<3, using: &random) {
                case 0:
                    let contact = contacts[Int.random(in: 0..<contacts.count, using: &random)]
                    sent = try simulator.send(from: contact, to: account, text: text, addressing: .lid)
                case 1:
                    let contact = contacts[Int.random(in: 0..<contacts.count, using: &random)]
                    sent = try simulator.send(from: contact, to: account, text: text, addressing: .pn)
                default:
                    let group = groups[account]!
                    let member = group.members[Int.random(in: 0..<group.members.count, using: &random)]
                    sent = try simulator.sendToGroup(group.id, from: member, text: text)
                }
                let message = FleetInvariants.SentMessage(
                    id: sent.id, chat: sent.chat.description, sender: sent.sender.description, devices: sent.devices.map(\.description)
                )
                recorded.withLock { $0.sent.append(message) }
            } catch {
                recorded.withLock { $0.failures += 1 }
            }
            next += pause
            // A late tick (a busy machine) does not make a burst: the schedule restarts from now.
            if next < ContinuousClock.now { next = ContinuousClock.now }
            try? await Task.sleep(until: next, clock: .continuous)
        }
    }

    /// Every send so far.
    var sent: [FleetInvariants.SentMessage] { recorded.withLock { $0.sent } }

    /// Sends the simulator refused (none expected: every contact and group exists).
    var failures: Int { recorded.withLock { $0.failures } }
}
