import Foundation
import Messaging
import Signal
import Synchronization

/// `pairgate link`'s `ProtocolStore`: the device's Signal state and the keys of the messages it took
/// delivery of, in one JSON file beside the credentials file (docs/link.md), so that the link
/// command runs the gateway's receive pipeline with the gateway's contract — a commit is all or
/// nothing (the whole file is replaced atomically, `AtomicFile`, before memory changes), a
/// consumed one-time prekey is refused twice, a message is kept once, retry prekeys are counted.
///
/// The file is not sealed: it sits beside the credentials file, which holds the device's private
/// keys in clear with the same protection (mode 0600), so a key to seal it would sit there too.
/// Without a path (no `--credentials-file`) the state lives in memory, as the credentials do.
final class LinkProtocolStore: ProtocolStore {
    /// Messages whose keys are kept for recognising redeliveries; older ones are forgotten (the
    /// server redelivers only what was not answered, so only recent keys ever match).
    static let keptMessages = 10_000

    let path: String?
    private let contents: Mutex<Contents>

    /// The store in `path` (read when it exists), or an empty one in memory.
    init(path: String?) throws(LinkFileError) {
        self.path = path
        guard let path, FileManager.default.fileExists(atPath: path) else {
            contents = Mutex(Contents())
            return
        }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let decoded = try JSONDecoder().decode(Contents.self, from: data)
            guard decoded.version == Contents.currentVersion else {
                throw LinkFileError(.unreadable, path: path, detail: "version \(decoded.version) is not \(Contents.currentVersion)")
            }
            contents = Mutex(decoded)
        } catch let error as LinkFileError {
            throw error
        } catch {
            throw LinkFileError(.unreadable, path: path, detail: "not a Signal state file (\(type(of: error)))")
        }
    }

    /// Where the state of the device whose credentials are in `credentialsFile` is kept.
    static func path(besideCredentials credentialsFile: String) -> String {
        credentialsFile + ".signal"
    }

    func load(_ request: StateRequest) async throws -> ProtocolState {
        contents.withLock { $0.state(for: request) }
    }

    func commit(_ changes: ProtocolChanges) async throws -> CommitReceipt {
        try contents.withLock { contents throws(LinkFileError) -> CommitReceipt in
            var next = contents
            guard next.consumedPreKeys.isDisjoint(with: changes.consumedPreKeys) else {
                throw LinkFileError(.preKeyConsumedTwice, path: path ?? "memory", detail: "nothing was written")
            }
            let receipt = next.apply(changes)
            if let path {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let data: Data
                do {
                    data = try encoder.encode(next)
                } catch {
                    throw LinkFileError(.notWritten, path: path, detail: "cannot encode the state (\(type(of: error)))")
                }
                try AtomicFile.replace(path, with: data)
            }
            contents = next
            return receipt
        }
    }
}

extension LinkProtocolStore {
    /// The file's contents: every record as the pipeline stores it, keyed for lookups.
    struct Contents: Codable, Sendable {
        static let currentVersion = 1

        var version = Contents.currentVersion
        var sessions: [SignalAddress: [UInt8]] = [:]
        var identities: [SignalAddress: [UInt8]] = [:]
        var senderKeys: [SenderKeyID: [UInt8]] = [:]
        var lidByPhoneNumber: [String: String] = [:]
        var consumedPreKeys: Set<UInt32> = []
        var retryPreKeys: UInt64 = 0
        /// Received messages, oldest first, with their stored type.
        var messages: [(key: InboxKey, type: String)] = []
        var messageTypes: [InboxKey: String] = [:]

        init() {}

        func state(for request: StateRequest) -> ProtocolState {
            var state = ProtocolState()
            for (address, bytes) in sessions where request.addresses.contains(address) || request.names.contains(address.name) {
                state.sessions[address] = bytes
            }
            for (address, key) in identities where request.addresses.contains(address) || request.names.contains(address.name) {
                state.identities[address] = key
            }
            for (id, bytes) in senderKeys where request.senderKeys.contains(id) || request.names.contains(id.sender.name) {
                state.senderKeys[id] = bytes
            }
            for (phoneNumber, lid) in lidByPhoneNumber where request.phoneNumbers.contains(phoneNumber) || request.lids.contains(lid) {
                state.lidByPhoneNumber[phoneNumber] = lid
                state.phoneNumberByLID[lid] = phoneNumber
            }
            state.consumedPreKeys = request.oneTimePreKeys.intersection(consumedPreKeys)
            for key in request.inbox {
                state.inbox[key] = messageTypes[key]
            }
            return state
        }

        /// Deletions, then writes, as `ProtocolStore.commit` orders them.
        mutating func apply(_ changes: ProtocolChanges) -> CommitReceipt {
            changes.deletedSessions.forEach { sessions[$0] = nil }
            changes.deletedIdentities.forEach { identities[$0] = nil }
            changes.deletedSenderKeys.forEach { senderKeys[$0] = nil }
            sessions.merge(changes.sessions) { _, new in new }
            identities.merge(changes.identities) { _, new in new }
            senderKeys.merge(changes.senderKeys) { _, new in new }
            consumedPreKeys.formUnion(changes.consumedPreKeys)
            for pair in changes.lidMappings {
                lidByPhoneNumber[pair.phoneNumber] = pair.lid
            }
            if let message = changes.message, messageTypes[message.key] == nil {
                messages.append((message.key, message.type))
                messageTypes[message.key] = message.type
                if messages.count > LinkProtocolStore.keptMessages {
                    let forgotten = messages.count - LinkProtocolStore.keptMessages
                    messages.prefix(forgotten).forEach { messageTypes[$0.key] = nil }
                    messages.removeFirst(forgotten)
                }
            }
            guard changes.reservesRetryPreKey else {
                return CommitReceipt()
            }
            defer { retryPreKeys += 1 }
            return CommitReceipt(retryPreKeySequence: retryPreKeys)
        }

        // MARK: The file's form: arrays of flat records, sorted, bytes in base64

        private enum Key: String, CodingKey {
            case version, sessions, identities
            case senderKeys = "sender_keys"
            case lidMappings = "lid_mappings"
            case consumedPreKeys = "consumed_prekeys"
            case retryPreKeys = "retry_prekeys"
            case messages
        }

        private struct Record: Codable {
            var name: String
            var device: UInt32
            var group: String?
            var bytes: Data
        }

        private struct Mapping: Codable {
            var phoneNumber: String
            var lid: String

            enum CodingKeys: String, CodingKey {
                case phoneNumber = "phone_number"
                case lid
            }
        }

        private struct Message: Codable {
            var chat: String
            var sender: String
            var id: String
            var type: String
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            version = try container.decode(Int.self, forKey: .version)
            for record in try container.decode([Record].self, forKey: .sessions) {
                sessions[SignalAddress(name: record.name, device: record.device)] = Array(record.bytes)
            }
            for record in try container.decode([Record].self, forKey: .identities) {
                identities[SignalAddress(name: record.name, device: record.device)] = Array(record.bytes)
            }
            for record in try container.decode([Record].self, forKey: .senderKeys) {
                let sender = SignalAddress(name: record.name, device: record.device)
                senderKeys[SenderKeyID(group: record.group ?? "", sender: sender)] = Array(record.bytes)
            }
            for mapping in try container.decode([Mapping].self, forKey: .lidMappings) {
                lidByPhoneNumber[mapping.phoneNumber] = mapping.lid
            }
            consumedPreKeys = Set(try container.decode([UInt32].self, forKey: .consumedPreKeys))
            retryPreKeys = try container.decode(UInt64.self, forKey: .retryPreKeys)
            for message in try container.decode([Message].self, forKey: .messages) {
                let key = InboxKey(chat: message.chat, sender: message.sender, messageID: message.id)
                messages.append((key, message.type))
                messageTypes[key] = message.type
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(version, forKey: .version)
            let order = { (a: Record, b: Record) in (a.group ?? "", a.name, a.device) < (b.group ?? "", b.name, b.device) }
            try container.encode(
                sessions.map { Record(name: $0.key.name, device: $0.key.device, bytes: Data($0.value)) }.sorted(by: order), forKey: .sessions
            )
            try container.encode(
                identities.map { Record(name: $0.key.name, device: $0.key.device, bytes: Data($0.value)) }.sorted(by: order), forKey: .identities
            )
            try container.encode(
                senderKeys.map { Record(name: $0.key.sender.name, device: $0.key.sender.device, group: $0.key.group, bytes: Data($0.value)) }
                    .sorted(by: order),
                forKey: .senderKeys
            )
            try container.encode(
                lidByPhoneNumber.map { Mapping(phoneNumber: $0.key, lid: $0.value) }.sorted { $0.phoneNumber < $1.phoneNumber },
                forKey: .lidMappings
            )
            try container.encode(consumedPreKeys.sorted(), forKey: .consumedPreKeys)
            try container.encode(retryPreKeys, forKey: .retryPreKeys)
            try container.encode(
                messages.map { Message(chat: $0.key.chat, sender: $0.key.sender, id: $0.key.messageID, type: $0.type) }, forKey: .messages
            )
        }
    }
}
