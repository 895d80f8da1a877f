import Foundation
import WAWire

/// A stanza the server holds for one linked device until the device answers it (messaging.md §2.9, §3.4).
public struct SimStanza: Sendable, Hashable {
    /// Unique in the world; what the device's answer is matched back to.
    public let sequence: UInt64
    /// The stanza as delivered live; a replay at login adds `offline`.
    public let node: Node
    /// How many times it was written to a connection before.
    public internal(set) var offers: Int
    public let queuedAt: Date
}

/// One linked device's offline queue: every stanza sent to it and not yet answered, oldest first.
///
/// A stanza leaves only when the device answers it (a receipt or an ack); until then it is replayed at
/// every login. Bounded: beyond `maximumEntries` the oldest are dropped, as a server expires old ones.
struct SimMailbox: Sendable {
    /// Far more than a device that answers ever has pending; reached only by one that never comes back.
    static let maximumEntries = 10_000

    /// A queued stanza and what it was made from.
    struct Entry: Sendable {
        var stanza: SimStanza
        let origin: SimOrigin
    }

    private(set) var entries: [Entry] = []
    /// Stanzas dropped for the bound, in total.
    private(set) var dropped = 0

    mutating func append(_ entry: Entry) {
        entries.append(entry)
        if entries.count > Self.maximumEntries {
            let excess = entries.count - Self.maximumEntries
            entries.removeFirst(excess)
            dropped += excess
        }
    }

    func entry(_ sequence: UInt64) -> Entry? {
        entries.first { $0.stanza.sequence == sequence }
    }

    /// Removes the stanza; false when it was not queued (answered already, or dropped).
    mutating func remove(_ sequence: UInt64) -> Bool {
        guard let index = entries.firstIndex(where: { $0.stanza.sequence == sequence }) else {
            return false
        }
        entries.remove(at: index)
        return true
    }

    /// Counts one more offer of each stanza; returns how many had been offered before.
    mutating func offered(_ sequences: [UInt64]) -> Int {
        let offered = Set(sequences)
        var redelivered = 0
        for index in entries.indices where offered.contains(entries[index].stanza.sequence) {
            if entries[index].stanza.offers > 0 {
                redelivered += 1
            }
            entries[index].stanza.offers += 1
        }
        return redelivered
    }
}

/// What a queued message was made from, so that its sender can encrypt it again for a retry receipt
/// (messaging.md §5.2): the sending phone and the unpadded `Message` the device should read.
struct SimOrigin: Sendable, Hashable {
    /// The sender's LID (device 0).
    let sender: JID
    /// The `Message` protobuf: the text, or the DeviceSentMessage wrapping it.
    let content: [UInt8]
    /// For a group message, the group: a resend carries the sender's current SKDM with the content.
    let group: JID?
    /// A copy another linked device of the account sent, relayed as the server does: only that device
    /// holds the session, so the simulator cannot answer a retry receipt for it.
    var relayed = false
}
