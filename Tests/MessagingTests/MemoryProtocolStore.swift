import Foundation
import Messaging
import Signal
import Synchronization

/// A `ProtocolStore` in memory with the contract of the real ones (all-or-nothing commits, a consumed
/// prekey refused twice, an inbox row kept once), for the processor's unit tests. Integration tests use
/// PostgreSQL.
final class MemoryProtocolStore: ProtocolStore {
    struct Contents: Sendable {
        var sessions: [SignalAddress: [UInt8]] = [:]
        var identities: [SignalAddress: [UInt8]] = [:]
        var senderKeys: [SenderKeyID: [UInt8]] = [:]
        var lidByPhoneNumber: [String: String] = [:]
        var consumedPreKeys: Set<UInt32> = []
        var inbox: [InboxKey: InboxMessage] = [:]
        var identityChanges: [ProtocolChanges.IdentityChange] = []
        var retryPreKeys: UInt64 = 0
        var commits = 0
        var loads: [StateRequest] = []
    }

    struct ConsumedTwice: Error {}

    let contents = Mutex(Contents())

    var snapshot: Contents { contents.withLock { $0 } }

    func load(_ request: StateRequest) async throws -> ProtocolState {
        contents.withLock { contents in
            contents.loads.append(request)
            var state = ProtocolState()
            for (address, bytes) in contents.sessions where request.addresses.contains(address) || request.names.contains(address.name) {
                state.sessions[address] = bytes
            }
            for (address, key) in contents.identities where request.addresses.contains(address) || request.names.contains(address.name) {
                state.identities[address] = key
            }
            for (id, bytes) in contents.senderKeys where request.senderKeys.contains(id) || request.names.contains(id.sender.name) {
                state.senderKeys[id] = bytes
            }
            for (phoneNumber, lid) in contents.lidByPhoneNumber where request.phoneNumbers.contains(phoneNumber) || request.lids.contains(lid) {
                state.lidByPhoneNumber[phoneNumber] = lid
                state.phoneNumberByLID[lid] = phoneNumber
            }
            state.consumedPreKeys = request.oneTimePreKeys.intersection(contents.consumedPreKeys)
            for key in request.inbox {
                if let message = contents.inbox[key] { state.inbox[key] = message.type }
            }
            return state
        }
    }

    func commit(_ changes: ProtocolChanges) async throws -> CommitReceipt {
        try contents.withLock { contents in
            guard contents.consumedPreKeys.isDisjoint(with: changes.consumedPreKeys) else { throw ConsumedTwice() }
            changes.deletedSessions.forEach { contents.sessions[$0] = nil }
            changes.deletedIdentities.forEach { contents.identities[$0] = nil }
            changes.deletedSenderKeys.forEach { contents.senderKeys[$0] = nil }
            contents.sessions.merge(changes.sessions) { _, new in new }
            contents.identities.merge(changes.identities) { _, new in new }
            contents.senderKeys.merge(changes.senderKeys) { _, new in new }
            contents.consumedPreKeys.formUnion(changes.consumedPreKeys)
            for pair in changes.lidMappings { contents.lidByPhoneNumber[pair.phoneNumber] = pair.lid }
            contents.identityChanges += changes.identityChanges
            if let message = changes.message, contents.inbox[message.key] == nil { contents.inbox[message.key] = message }
            contents.commits += 1
            guard changes.reservesRetryPreKey else { return CommitReceipt() }
            defer { contents.retryPreKeys += 1 }
            return CommitReceipt(retryPreKeySequence: contents.retryPreKeys)
        }
    }
}
