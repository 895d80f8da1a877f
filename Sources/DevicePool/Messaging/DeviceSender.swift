import Foundation
import Logging
import Messaging
import Signal
import WAClient
import WAWire

/// One device's send path in the pool (docs/messaging.md "Sending"; whatsmeow send.go `sendDM`): for
/// the oldest queued message, the device lists (cached, else usync), the sessions, prekey bundles for
/// devices without one, the encryption — and the state it advanced, to be committed before the
/// stanza is written. The device actor runs it one message at a time and waits for the server's ack
/// before the next, as whatsmeow sends one message at a time. `pairgate link --send` runs the same
/// path over its state file and an outbox in memory.
public struct DeviceSender: Sendable {
    /// What preparing a message ended with.
    public enum Prepared: Sendable {
        /// Commit `changes`, then write `stanza`.
        case send(stanza: Node, changes: ProtocolChanges, phash: String, chat: JID, own: JID)
        /// The message cannot be sent; commit this failure.
        case failed(ProtocolChanges)
    }

    public let credentials: DeviceCredentials
    let encryptor: OutboundEncryptor
    public let protocolStore: any ProtocolStore
    public let outbox: any OutboxStore

    /// Nil for credentials that are not paired.
    public init?(credentials: DeviceCredentials, protocolStore: any ProtocolStore, outbox: any OutboxStore) {
        guard let device = LocalDevice(credentials: credentials) else {
            return nil
        }
        self.credentials = credentials
        encryptor = OutboundEncryptor(device: device)
        self.protocolStore = protocolStore
        self.outbox = outbox
    }

    /// Encrypts `message` for every device of its chat and of our account. Throws when the store or
    /// an IQ failed (the message stays queued and is tried again later); a message that can never be
    /// sent (not on WhatsApp, no device to encrypt for) comes back as `failed`.
    public func prepare(_ message: QueuedMessage, session: any UpstreamSession, now: Date) async throws -> Prepared {
        guard let content = message.message else {
            return .failed(Self.failure(message, .invalidMessage, now: now))
        }
        let (chat, peerRecipientPN) = try await address(message.chat)
        let (recipient, own) = DirectFanOut.users(for: chat, account: encryptor.device.account)
        let lists = try await deviceLists(of: [recipient, own], session: session)
        let fanOut = DirectFanOut(
            chat: chat, peerRecipientPN: peerRecipientPN, recipientDevices: lists[recipient] ?? [], ownDevices: lists[own] ?? []
        )
        let targets = encryptor.targets(of: fanOut)
        let state = try await protocolStore.load(encryptor.requirements(for: targets))
        let needing = encryptor.devicesNeedingBundles(targets, state: state)
        var bundles: [JID: KeyBundle] = [:]
        if !needing.isEmpty {
            for (jid, result) in try PreKeyFetch.parse(try await session.query(PreKeyFetch.query(for: needing))) {
                if case .success(let bundle) = result { bundles[jid] = bundle }
            }
        }
        var generator = SystemRandomNumberGenerator()
        do throws(SendError) {
            let encryption = try encryptor.encryptDirect(
                id: message.messageID, message: content, fanOut: fanOut, state: state, bundles: bundles, using: &generator
            )
            var changes = encryption.changes
            changes.sendingMessage = message.messageID
            return .send(stanza: encryption.stanza, changes: changes, phash: encryption.phash, chat: recipient, own: own)
        } catch {
            return .failed(Self.failure(message, error.code, now: now))
        }
    }

    /// Retry receipts beyond this count are not answered (whatsmeow stops at 10, Baileys at 5).
    public static let maximumRetries = 5

    /// The answer to a peer's retry receipt for a message we sent (messaging.md §5.2): the stored
    /// message encrypted again for that device alone, on the receipt's `<keys>`, the stored session
    /// or a fetched bundle. Nil when the message is not ours, failed, or was asked for too often.
    public func resend(_ request: RetryRequest, session: any UpstreamSession) async throws -> (Node, ProtocolChanges)? {
        guard request.count <= Self.maximumRetries, let requester = OutboundEncryptor.requester(of: request),
              let original = try await outbox.sentMessage(request.messageID), let content = original.message
        else {
            return nil
        }
        let state = try await protocolStore.load(encryptor.requirements(for: [requester]))
        var fetched: KeyBundle?
        if encryptor.resendNeedsBundle(request, state: state) {
            fetched = try? PreKeyFetch.parse(try await session.query(PreKeyFetch.query(for: [requester])))[requester]?.get()
        }
        var generator = SystemRandomNumberGenerator()
        guard let encryption = try? encryptor.encryptResend(
            request, message: content, chat: original.chat, state: state, fetched: fetched, using: &generator
        ) else {
            return nil
        }
        return (encryption.stanza, encryption.changes)
    }

    /// The chat on the wire: a phone number whose LID is stored goes by its LID, carrying the phone
    /// number in `peer_recipient_pn` (messaging.md §8.1 step 2); otherwise as queued.
    private func address(_ chat: JID) async throws -> (JID, JID?) {
        guard chat.server == .whatsApp else {
            return (chat, nil)
        }
        var request = StateRequest()
        request.phoneNumbers = [chat.user]
        guard let lid = try await protocolStore.load(request).lidByPhoneNumber[chat.user] else {
            return (chat, nil)
        }
        return (JID(user: lid, server: .lid), chat)
    }

    /// Cached lists, and one usync query for the users without one (stored for next time).
    private func deviceLists(of users: [JID], session: any UpstreamSession) async throws -> [JID: [JID]] {
        var lists = try await outbox.deviceLists(users)
        let missing = users.filter { lists[$0] == nil }
        guard !missing.isEmpty else {
            return lists
        }
        let answer = try await session.query(USyncQuery.devices(of: missing, sid: UUID().uuidString.lowercased()))
        for user in try USyncQuery.parse(answer) where missing.contains(user.jid.userJID) {
            lists[user.jid.userJID] = user.devices
            // An empty list is not cached: the number may join WhatsApp later.
            if !user.devices.isEmpty {
                try await outbox.saveDeviceList(user.devices, of: user.jid.userJID)
            }
        }
        return lists
    }

    static func failure(_ message: QueuedMessage, _ code: SendError.Code, now: Date) -> ProtocolChanges {
        var changes = ProtocolChanges()
        changes.outboundStatuses = [OutboundStatusChange(messageID: message.messageID, status: .failed, at: now, failureReason: code.description)]
        return changes
    }

    /// What the server's ack of our message records (messaging.md §8.5): `sent` at its `t`, or
    /// `failed` with `server_error_<code>`; a `phash` that differs from ours drops both device lists.
    public static func record(_ ack: ServerAck, phash: String?, users: [JID], now: Date) -> ProtocolChanges {
        var changes = ProtocolChanges()
        if ack.isSuccess {
            let at = ack.timestamp.map { Date(timeIntervalSince1970: TimeInterval(min(max($0, 0), 253_402_300_799))) } ?? now
            changes.outboundStatuses = [OutboundStatusChange(messageID: ack.id, status: .sent, at: at)]
        } else {
            changes.outboundStatuses = [OutboundStatusChange(
                messageID: ack.id, status: .failed, at: now, failureReason: "server_error_\(ack.error ?? 0)"
            )]
        }
        if let phash, ack.phashDiffers(from: phash) {
            changes.forgottenDeviceLists = Set(users.map(\.description))
        }
        return changes
    }
}
