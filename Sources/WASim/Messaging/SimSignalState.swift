import Foundation
import Signal
import WAWire

/// The messaging state a clean shutdown saves beside the devices: the senders' Signal sessions and
/// sender keys, and every device's queue, so that a restarted simulator continues where it stopped.
///
/// Only a clean shutdown writes it, and the simulator drops it from the file as soon as it has read
/// it: sessions advance with every message and are not saved each time, so resuming older ones would
/// reuse message keys the devices already consumed (their copies would be dropped as duplicates).
/// After a crash the senders start new sessions instead (a `pkmsg` from a fresh bundle).
public struct SimSignalState: Sendable, Hashable, Codable {
    struct Session: Sendable, Hashable, Codable {
        var sender: String
        var device: String
        /// `SessionRecord.serialized()`.
        var record: Data
    }

    struct SenderKey: Sendable, Hashable, Codable {
        var group: String
        var sender: String
        /// `SenderKeyRecord.serialized()`.
        var record: Data
    }

    struct Queued: Sendable, Hashable, Codable {
        var device: String
        var sequence: UInt64
        /// The stanza, encoded as a transport frame's plaintext.
        var stanza: Data
        var offers: Int
        var queuedAt: Date
        var sender: String
        var content: Data
        var group: String?
        /// Absent in files written before relays.
        var relayed: Bool?
    }

    var sessions: [Session]
    var senderKeys: [SenderKey]
    var queued: [Queued]
    var nextSequence: UInt64

    init(_ messaging: SimMessaging) {
        sessions = messaging.sessions.map { key, record in
            Session(sender: key.sender, device: key.device.description, record: Data(record.serialized()))
        }.sorted { ($0.sender, $0.device) < ($1.sender, $1.device) }
        senderKeys = messaging.senderKeys.map { key, record in
            SenderKey(group: key.group.description, sender: key.sender, record: Data(record.serialized()))
        }.sorted { ($0.group, $0.sender) < ($1.group, $1.sender) }
        queued = messaging.mailboxes.sorted { $0.key.description < $1.key.description }.flatMap { device, mailbox in
            mailbox.entries.compactMap { entry in
                (try? NodeEncoder.encode(entry.stanza.node)).map { stanza in
                    Queued(
                        device: device.description, sequence: entry.stanza.sequence, stanza: Data(stanza), offers: entry.stanza.offers,
                        queuedAt: entry.stanza.queuedAt, sender: entry.origin.sender.description, content: Data(entry.origin.content),
                        group: entry.origin.group?.description, relayed: entry.origin.relayed ? true : nil
                    )
                }
            }
        }
        nextSequence = messaging.nextSequence
    }

    /// Puts the saved sessions, sender keys and queues into `messaging`; entries that no longer decode
    /// are left out (a sender then starts a new session).
    func restore(into messaging: inout SimMessaging) {
        for session in sessions {
            guard let device = JID(parsing: session.device), let record = try? SessionRecord(serialized: [UInt8](session.record)) else {
                continue
            }
            messaging.sessions[SimMessaging.SessionKey(sender: session.sender, device: device)] = record
        }
        for key in senderKeys {
            guard let group = JID(parsing: key.group), let record = try? SenderKeyRecord(serialized: [UInt8](key.record)) else {
                continue
            }
            messaging.senderKeys[SimMessaging.SenderKeyKey(group: group, sender: key.sender)] = record
        }
        for queued in queued {
            guard let device = JID(parsing: queued.device), let sender = JID(parsing: queued.sender),
                  let node = try? NodeDecoder().decode(frame: [UInt8](queued.stanza))
            else {
                continue
            }
            let stanza = SimStanza(sequence: queued.sequence, node: node, offers: queued.offers, queuedAt: queued.queuedAt)
            let origin = SimOrigin(
                sender: sender, content: [UInt8](queued.content), group: queued.group.flatMap(JID.init(parsing:)), relayed: queued.relayed ?? false
            )
            messaging.mailboxes[device, default: SimMailbox()].append(SimMailbox.Entry(stanza: stanza, origin: origin))
        }
        messaging.nextSequence = max(messaging.nextSequence, nextSequence)
    }
}
