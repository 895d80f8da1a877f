import Foundation
import SwiftProtobuf
import Synchronization
import WAWire

/// One user's devices as the usync device-list query answers them (messaging.md §7.1).
public struct SimDeviceList: Sendable, Hashable {
    /// One `<device id [key-index]>`.
    public struct Device: Sendable, Hashable {
        public let id: UInt16
        /// The ADV key index of a linked device; nil for the phone.
        public let keyIndex: UInt32?
    }

    /// `<key-index-list ts>`: a serialized ADVSignedKeyIndexList the account's identity key signed.
    public struct KeyIndexList: Sendable, Hashable {
        public let timestamp: UInt64
        public let signed: [UInt8]
    }

    /// Device 0 (the phone) first, then the linked devices.
    public let devices: [Device]
    /// The user's LID (`<lid val>`).
    public let lid: JID
    /// For an account with linked devices.
    public let keyIndexList: KeyIndexList?
}

extension SimWorld {
    /// The device lists of `users` (no device part; by phone number or LID): a contact has its phone
    /// (device 0); an account its phone and every linked device with its key index, and a signed
    /// key-index list. Users the simulator does not know are left out.
    func deviceLists(_ users: [JID]) -> [JID: SimDeviceList] {
        state.withLock { state in
            var lists: [JID: SimDeviceList] = [:]
            for user in users where user.device == 0 {
                if let contact = state.messaging.contacts.values.first(where: { $0.isPhone(user) }) {
                    lists[user] = SimDeviceList(devices: [.init(id: 0, keyIndex: nil)], lid: contact.lid, keyIndexList: nil)
                } else if let phone = Self.accountOfPhone(user, in: state), let account = state.accounts[phone] {
                    let linked = (state.devicesByAccount[phone] ?? []).compactMap { state.devices[$0] }
                    lists[user] = SimDeviceList(
                        devices: [.init(id: 0, keyIndex: nil)] + linked.map { .init(id: $0.deviceID, keyIndex: $0.keyIndex) },
                        lid: JID(user: account.lidUser, server: .lid),
                        keyIndexList: linked.isEmpty ? nil : Self.keyIndexList(account, linked: linked, random: &state.random)
                    )
                }
            }
            return lists
        }
    }

    /// ADVSignedKeyIndexList{details = ADVKeyIndexList{rawID, timestamp, currentIndex, validIndexes},
    /// accountSignature} over the linked devices' key indexes, timestamped by the latest link.
    private static func keyIndexList(
        _ account: SimAccount, linked: [SimLinkedDevice], random: inout some RandomNumberGenerator
    ) -> SimDeviceList.KeyIndexList? {
        var list = WAADVKeyIndexList()
        list.rawID = account.rawID
        list.timestamp = SimConnectionMachine.unixSeconds(linked.map(\.linkedAt).max() ?? Date(timeIntervalSince1970: 0))
        list.currentIndex = linked.map(\.keyIndex).max() ?? 0
        list.validIndexes = linked.map(\.keyIndex).sorted()
        guard let details = try? list.serializedBytes() as [UInt8],
              let signature = try? CurveSignature.sign(details, privateKey: account.identityPrivateKey, randomness: random.bytes(64))
        else {
            return nil
        }
        var signed = WAADVSignedKeyIndexList()
        signed.details = Data(details)
        signed.accountSignature = Data(signature)
        guard let bytes = try? signed.serializedBytes() as [UInt8] else {
            return nil
        }
        return SimDeviceList.KeyIndexList(timestamp: list.timestamp, signed: bytes)
    }
}
