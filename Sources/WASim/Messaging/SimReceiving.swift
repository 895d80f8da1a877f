import Foundation
import Signal
import WAWire

/// What the simulated phones (contacts and the accounts' own phones) keep about the messages linked
/// devices send them: the ids they got, per phone, to count duplicates; the one-time prekeys new
/// sessions used; the retries they asked for; and the read receipts they will send.
///
/// Kept in memory only, like the sessions between clean stops (SimSignalState).
struct SimReceiving: Sendable {
    /// The ids one phone remembers: enough to see any resend of a recent message.
    static let rememberedIDs = 50_000
    /// Retries asked for and not answered yet, over all phones; beyond it the oldest are forgotten.
    static let maximumOpenRetries = 10_000
    /// whatsmeow's receiver stops asking at this count (messaging.md §5.1).
    static let maximumRetryCount = 5

    /// One phone's messages from linked devices.
    struct Inbox: Sendable {
        var received = 0
        var duplicates = 0
        private(set) var ids: Set<String> = []
        private var order: [String] = []

        /// Remembers `id`; false when it was there already (a duplicate).
        mutating func insert(_ id: String) -> Bool {
            guard ids.insert(id).inserted else {
                return false
            }
            order.append(id)
            if order.count > SimReceiving.rememberedIDs {
                let excess = order.count - SimReceiving.rememberedIDs
                ids.subtract(order.prefix(excess))
                order.removeFirst(excess)
            }
            return true
        }
    }

    /// A retry a phone asked a device for.
    struct RetryKey: Hashable, Sendable {
        /// The phone's Signal address.
        let receiver: String
        let device: JID
        let id: String
    }

    struct OpenRetry: Sendable {
        var count: Int
        /// The server's `t` of the message, echoed in `<retry t>`.
        let timestamp: String
        let since: Date
    }

    /// A read receipt the phone sends once `due` comes.
    struct PendingRead: Sendable {
        let due: Date
        let device: JID
        /// The receipt's `from` and `participant`, as the device wrote them.
        let from: AttributeValue
        let participant: AttributeValue?
        let id: String
        let phone: JID
    }

    /// By the phone's Signal address.
    var inboxes: [String: Inbox] = [:]
    /// One-time prekeys that set up a session, by the phone's Signal address: each works once.
    var usedPreKeys: [String: Set<UInt32>] = [:]
    /// The next one-time prekey id of each account's own phone (contacts keep theirs in `SimContact`).
    var phonePreKeyIDs: [String: UInt32] = [:]
    var retries: [RetryKey: OpenRetry] = [:]
    /// Oldest due first.
    var pendingReads: [PendingRead] = []
    /// The sender keys the phones got from linked devices' SKDMs.
    var senderKeys: [SenderKeyKey: SenderKeyRecord] = [:]

    /// A linked device's sender key in a group, as one phone holds it.
    struct SenderKeyKey: Hashable, Sendable {
        /// The phone's Signal address.
        let receiver: String
        let group: JID
        let device: JID
    }

    mutating func forget(device: JID) {
        retries = retries.filter { $0.key.device != device }
        pendingReads.removeAll { $0.device == device }
        senderKeys = senderKeys.filter { $0.key.device != device }
    }

    /// Installs the device's sender key from its SKDM (a replayed SKDM keeps the state the phone has).
    mutating func install(_ distribution: MessageContent.SenderKeyDistribution, for key: SenderKeyKey) {
        guard let message = try? SenderKeyDistributionMessage(parsing: distribution.message) else {
            return
        }
        senderKeys[key] = GroupCipher.process(message, record: senderKeys[key] ?? SenderKeyRecord())
    }

    /// Reads a `skmsg` with the device's sender key (messaging.md §9.4).
    mutating func readGroup(_ ciphertext: [UInt8], for key: SenderKeyKey) -> SimMessaging.Reading {
        guard let record = senderKeys[key] else {
            return .failed("no_sender_key")
        }
        do throws(SignalError) {
            let decryption = try GroupCipher.decrypt(try SenderKeyMessage(parsing: ciphertext), record: record)
            senderKeys[key] = decryption.record
            return (try? MessagePadding.unpad(decryption.plaintext)).flatMap { try? MessageContent(decoding: $0) }.map { .content($0) }
                ?? .failed("invalid_padding_or_protobuf")
        } catch {
            return error.code == .duplicate ? .duplicate : .failed(error.code.description)
        }
    }

    /// Counts a message a phone read; true when its id is new to that phone.
    mutating func accept(_ id: String, by receiver: String) -> Bool {
        let new = inboxes[receiver, default: Inbox()].insert(id)
        if new {
            inboxes[receiver]?.received += 1
        } else {
            inboxes[receiver]?.duplicates += 1
        }
        return new
    }

    /// The retry count for the next retry receipt, remembering the message's `t`; nil past whatsmeow's limit.
    mutating func nextRetry(_ key: RetryKey, timestamp: String, now: Date) -> OpenRetry? {
        var retry = retries[key] ?? OpenRetry(count: 0, timestamp: timestamp, since: now)
        guard retry.count < Self.maximumRetryCount else {
            return nil
        }
        retry.count += 1
        retries[key] = retry
        if retries.count > Self.maximumOpenRetries, let oldest = retries.min(by: { $0.value.since < $1.value.since })?.key {
            retries[oldest] = nil
        }
        return retry
    }

    mutating func schedule(_ read: PendingRead) {
        let index = pendingReads.firstIndex { $0.due > read.due } ?? pendingReads.endIndex
        pendingReads.insert(read, at: index)
    }

    /// Takes the read receipts due by `now`.
    mutating func dueReads(at now: Date) -> [PendingRead] {
        let count = pendingReads.prefix { $0.due <= now }.count
        defer { pendingReads.removeFirst(count) }
        return Array(pendingReads.prefix(count))
    }
}
