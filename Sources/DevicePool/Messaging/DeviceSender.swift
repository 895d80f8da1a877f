import Foundation
import Logging
import Messaging
import Signal
import WAClient
import WAWire

/// One device's send path in the pool (docs/messaging.md "Sending"; whatsmeow send.go `sendDM`,
/// `sendGroup`): for
/// the oldest queued message, the device lists (cached, else usync), the sessions, prekey bundles for
/// devices without one, the encryption — and the state it advanced, to be committed before the
/// stanza is written. The device actor runs it one message at a time and waits for the server's ack
/// before the next, as whatsmeow sends one message at a time. `pairgate link --send` runs the same
/// path over its state file and an outbox in memory.
public struct DeviceSender: Sendable {
    /// What preparing a message ended with.
    public enum Prepared: Sendable {
        /// Commit `changes`, then write `stanza`; `sent` says what its ack records.
        case send(stanza: Node, changes: ProtocolChanges, sent: SentStanza)
        /// The message cannot be sent; commit this failure.
        case failed(ProtocolChanges)
    }

    /// What the server's ack of a written stanza must know.
    public struct SentStanza: Sendable {
        /// Our `phash`, to compare with the ack's.
        public let phash: String
        /// The cached lists a `phash` mismatch drops: the users' device lists, and a group's member list.
        public let lists: [JID]
        /// A group send's SKDM recipients: once the server accepts the stanza they hold our sender key.
        public let distributed: (group: String, devices: [JID])?
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
        if message.chat.isGroup {
            return try await prepareGroup(message, content: content, session: session, now: now)
        }
        let (chat, peerRecipientPN) = try await address(message.chat)
        let (recipient, own) = DirectFanOut.users(for: chat, account: encryptor.device.account)
        let lists = try await deviceLists(of: [recipient, own], session: session)
        let fanOut = DirectFanOut(
            chat: chat, peerRecipientPN: peerRecipientPN, recipientDevices: lists[recipient] ?? [], ownDevices: lists[own] ?? []
        )
        let targets = encryptor.targets(of: fanOut)
        var state = try await protocolStore.load(encryptor.requirements(for: targets))
        try await loadLIDAddresses(of: targets, into: &state)
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
            return .send(stanza: encryption.stanza, changes: changes, sent: SentStanza(phash: encryption.phash, lists: [recipient, own], distributed: nil))
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
        var state = try await protocolStore.load(encryptor.requirements(forResendIn: original.chat, to: requester))
        try await loadLIDAddresses(of: [requester], into: &state)
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

    /// A group send (docs/messaging.md "Group sends"; whatsmeow `sendGroup`): the members (cached,
    /// else the `w:g2` group-info query; 404 and 403 fail the message), every member's devices, the
    /// devices holding our sender key, the sessions of those that get our SKDM now and bundles for the
    /// ones without a session, then `encryptGroup`. The member pairs the group named are stored as
    /// LID mappings with the send's changes.
    private func prepareGroup(_ message: QueuedMessage, content: WAMessage, session: any UpstreamSession, now: Date) async throws -> Prepared {
        let group = message.chat.userJID
        let members: [JID]
        var mappings: [ProtocolChanges.LIDPair] = []
        if let cached = try await outbox.deviceLists([group])[group], !cached.isEmpty {
            members = cached
        } else {
            let answer: GroupInfo.Answer
            do {
                answer = try GroupInfo.parse(try await session.query(GroupInfo.query(group)), group: group)
            } catch let error as ClientRequestError where error.code == .errorResponse && (error.errorCode == 404 || error.errorCode == 403) {
                answer = error.errorCode == 404 ? .notFound : .notMember
            }
            switch answer {
            case .notFound:
                return .failed(Self.failure(message, .groupNotFound, now: now))
            case .notMember:
                return .failed(Self.failure(message, .notGroupMember, now: now))
            case .found(let info):
                members = info.participants.map(\.jid)
                mappings = info.participants.compactMap { member in
                    let pair: (JID?, JID?) = member.jid.isLID ? (member.phoneNumber, member.jid) : (member.jid, member.lid)
                    guard let pn = pair.0, let lid = pair.1, pn.isPhoneNumber, lid.isLID else { return nil }
                    return ProtocolChanges.LIDPair(phoneNumber: pn.user, lid: lid.user)
                }
                if !members.isEmpty {
                    try await outbox.saveDeviceList(members, of: group)
                }
            }
        }
        // Before the server's `<success lid>` reached the credentials (the first drain after a login
        // may run first), our LID comes from the group's own member pairs: without it our own device
        // would look like a member's, and our sender key would be named by the phone number.
        var encryptor = self.encryptor
        if encryptor.device.account.lid == nil, let lid = try await ownLID(among: mappings) {
            var device = encryptor.device
            device.account.lid = lid
            encryptor = OutboundEncryptor(device: device)
        }
        let lists = try await deviceLists(of: members, session: session)
        let fanOut = GroupFanOut(
            group: group, addressingMode: !members.isEmpty && members.allSatisfy(\.isLID) ? .lid : .pn, members: members,
            devices: members.flatMap { lists[$0] ?? [] }, holders: try await outbox.senderKeyHolders(of: group)
        )
        let request = encryptor.requirements(for: fanOut, distributingTo: encryptor.targets(of: fanOut).filter { !fanOut.holders.contains($0) })
        var state = try await protocolStore.load(request)
        let distributing = encryptor.distributionTargets(of: fanOut, state: state)
        let more = encryptor.requirements(for: distributing).subtracting(request)
        if !more.isEmpty {
            state.merge(try await protocolStore.load(more), answering: more)
        }
        try await loadLIDAddresses(of: distributing, into: &state, using: encryptor)
        let needing = encryptor.devicesNeedingBundles(distributing, state: state)
        var bundles: [JID: KeyBundle] = [:]
        if !needing.isEmpty {
            for (jid, result) in try PreKeyFetch.parse(try await session.query(PreKeyFetch.query(for: needing))) {
                if case .success(let bundle) = result { bundles[jid] = bundle }
            }
        }
        var generator = SystemRandomNumberGenerator()
        do throws(SendError) {
            let encryption = try encryptor.encryptGroup(
                id: message.messageID, message: content, fanOut: fanOut, state: state, bundles: bundles, using: &generator
            )
            var changes = encryption.changes
            changes.sendingMessage = message.messageID
            changes.lidMappings = mappings
            let sent = SentStanza(
                phash: encryption.phash, lists: [group] + members, distributed: (group.description, encryption.devices)
            )
            return .send(stanza: encryption.stanza, changes: changes, sent: sent)
        } catch {
            return .failed(Self.failure(message, error.code, now: now))
        }
    }

    /// Adds to `state` the sessions of `devices` under the LID addresses its mappings name (the
    /// encryption address of a phone-number device with a stored LID, messaging.md §1.3), which the
    /// first load could not know to ask for.
    private func loadLIDAddresses(of devices: [JID], into state: inout ProtocolState, using encryptor: OutboundEncryptor? = nil) async throws {
        let more = (encryptor ?? self.encryptor).requirements(for: devices, given: state).subtracting(state.covered)
        if !more.isEmpty {
            state.merge(try await protocolStore.load(more), answering: more)
        }
    }

    /// Our LID device, from `pairs` or a stored mapping of our phone number.
    private func ownLID(among pairs: [ProtocolChanges.LIDPair]) async throws -> JID? {
        let own = encryptor.device.account.phoneNumber
        var lid = pairs.first { $0.phoneNumber == own.user }?.lid
        if lid == nil {
            var request = StateRequest()
            request.phoneNumbers = [own.user]
            lid = try await protocolStore.load(request).lidByPhoneNumber[own.user]
        }
        return lid.map { JID(user: $0, device: own.device, server: .lid) }
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
    /// `failed` with `server_error_<code>`; a `phash` that differs from ours drops the cached lists
    /// (both device lists of a DM; a group's member list and its members' device lists). A group
    /// send's SKDM recipients hold our sender key once the server accepted the stanza.
    public static func record(_ ack: ServerAck, sent: SentStanza?, now: Date) -> ProtocolChanges {
        var changes = ProtocolChanges()
        if ack.isSuccess {
            let at = ack.timestamp.map { Date(timeIntervalSince1970: TimeInterval(min(max($0, 0), 253_402_300_799))) } ?? now
            changes.outboundStatuses = [OutboundStatusChange(messageID: ack.id, status: .sent, at: at)]
            if let distributed = sent?.distributed, !distributed.devices.isEmpty {
                changes.senderKeyHolders[distributed.group] = Set(distributed.devices.map(\.description))
            }
        } else {
            changes.outboundStatuses = [OutboundStatusChange(
                messageID: ack.id, status: .failed, at: now, failureReason: "server_error_\(ack.error ?? 0)"
            )]
        }
        if let sent, ack.phashDiffers(from: sent.phash) {
            changes.forgottenDeviceLists = Set(sent.lists.map(\.description))
        }
        return changes
    }
}
