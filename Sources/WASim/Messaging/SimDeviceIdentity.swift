import Foundation
import SwiftProtobuf
import WAWire

/// How a receiving phone checks a sender's `<device-identity>` before it trusts a `pkmsg` (messaging.md
/// §8.3, pairing.md §4): the serialized ADVSignedDeviceIdentity must carry the account's key, the
/// account's signature over the device, the device's countersignature, and the device's key index.
enum SimDeviceIdentity {
    /// A real one is about 200 bytes.
    static let maximumSize = 4096

    /// What is wrong with `bytes` as `device`'s identity under `account`, if anything.
    static func problem(_ bytes: [UInt8], account: SimAccount, device: SimLinkedDevice) -> String? {
        guard bytes.count <= maximumSize, let signed = try? WAADVSignedDeviceIdentity(serializedBytes: bytes),
              let details = try? WAADVDeviceIdentity(serializedBytes: signed.details)
        else {
            return "<device-identity> is not an ADVSignedDeviceIdentity"
        }
        guard let accountKey = account.identity?.publicKey, [UInt8](signed.accountSignatureKey) == accountKey else {
            return "<device-identity> does not carry the account's signature key (messaging.md §8.3)"
        }
        let signedDetails = [UInt8](signed.details)
        let accountPrefix: [UInt8] = details.accountType == .hosted ? [0x06, 0x05] : [0x06, 0x00]
        guard CurveSignature.isValid([UInt8](signed.accountSignature), for: accountPrefix + signedDetails + device.identityPublicKey, publicKey: accountKey) else {
            return "<device-identity>: the account signature does not verify for this device"
        }
        guard CurveSignature.isValid(
            [UInt8](signed.deviceSignature), for: [0x06, 0x01] + signedDetails + device.identityPublicKey + accountKey,
            publicKey: device.identityPublicKey
        ) else {
            return "<device-identity>: the device signature does not verify"
        }
        guard details.keyIndex == device.keyIndex else {
            return "<device-identity> has key index \(details.keyIndex), the device was linked with \(device.keyIndex)"
        }
        return nil
    }
}
