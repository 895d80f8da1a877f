import Foundation
import SwiftProtobuf
import WAWire

/// A message waiting in a device's outbox, as the sender reads it.
public struct QueuedMessage: Hashable, Sendable {
    /// The WhatsApp id chosen when it was queued; a resend keeps it.
    public var messageID: String
    /// The recipient user, or the group.
    public var chat: JID
    /// The serialized `Message`.
    public var raw: [UInt8]
    public var queuedAt: Date

    public init(messageID: String, chat: JID, raw: [UInt8], queuedAt: Date) {
        self.messageID = messageID
        self.chat = chat
        self.raw = raw
        self.queuedAt = queuedAt
    }

    /// The `Message` to encrypt; nil when the stored bytes do not parse.
    public var message: WAMessage? {
        try? WAMessage(serializedBytes: raw)
    }
}

/// Where one device's outbox and cached device lists live, for the sender: the gateway's is
/// PostgreSQL, fenced by the device's lease like its `ProtocolStore`. Status changes are committed
/// through `ProtocolStore.commit`, with the state they go with.
public protocol OutboxStore: Sendable {
    /// The oldest queued message not older than `notBefore`, after failing every queued message
    /// older than it (`expired`).
    func nextQueued(notBefore: Date, now: Date) async throws -> QueuedMessage?
    /// The cached device lists of `users` (JIDs without device); users never cached are absent.
    func deviceLists(_ users: [JID]) async throws -> [JID: [JID]]
    func saveDeviceList(_ devices: [JID], of user: JID) async throws
    /// Drops cached lists (a `devices` notification, a `phash` mismatch).
    func forgetDeviceLists(_ users: [JID]) async throws
    /// The devices that hold our current sender key for `group` (`ProtocolChanges.senderKeyHolders`).
    func senderKeyHolders(of group: JID) async throws -> Set<JID>
    /// A message we sent (any status but `failed`), by its WhatsApp id: a retry receipt asks for it again.
    func sentMessage(_ messageID: String) async throws -> QueuedMessage?
}

extension OutboxStore {
    /// A store that keeps no holders: every group send distributes the sender key to every device, as
    /// whatsmeow does (messaging.md §9.2) — bigger stanzas, always correct.
    public func senderKeyHolders(of group: JID) async throws -> Set<JID> {
        []
    }
}
