import Signal
import WAWire

/// A retry receipt as the server reads it from a linked device (messaging.md §5.1): which message, the
/// how-many-th retry, the device's registration id and, when it sent them, the keys of a new session.
public struct SimRetryReceipt: Sendable, Equatable {
    /// `<retry id>`.
    public let messageID: String
    /// `<retry count>`: 1, 2, …
    public let count: Int
    /// `<retry t>`: the original message's `t`.
    public let timestamp: String
    /// `<registration>`.
    public let registrationID: UInt32
    /// `<keys>`: a bundle for a new session (its one-time prekey is optional).
    public let keys: PreKeyBundle?

    /// Reads the receipt's children; the error is a violation's detail.
    init(_ node: Node) throws(SimRetryReceipt.Problem) {
        guard let retry = node.child("retry") else {
            throw Problem("a retry receipt needs <retry count id t v>")
        }
        guard let id = retry.attribute("id"), !id.isEmpty, let countText = retry.attribute("count"),
              let count = Int(countText), count >= 1, let timestamp = retry.attribute("t"), retry.attribute("v") == "1"
        else {
            throw Problem("<retry> needs a count ≥ 1, the message id, its t and v=\"1\"")
        }
        guard let registration = node.child("registration")?.bytes, registration.count == 4 else {
            throw Problem("a retry receipt needs <registration> with the 4-byte registration id")
        }
        let registrationID = Self.bigEndian(registration)
        messageID = id
        self.count = count
        self.timestamp = timestamp
        self.registrationID = registrationID
        keys = try node.child("keys").map { keys throws(Problem) in try Self.bundle(keys, registrationID: registrationID) }
    }

    /// `<keys>`: type 05, a 32-byte identity, an optional `<key>` (3-byte id, 32-byte value) and a
    /// `<skey>` (3-byte id, 32-byte value, 64-byte signature); `<device-identity>` is not read.
    private static func bundle(_ keys: Node, registrationID: UInt32) throws(Problem) -> PreKeyBundle {
        guard keys.child("type")?.bytes == [RegistrationKeys.keyType], let identity = keys.child("identity")?.bytes, identity.count == 32 else {
            throw Problem("<keys> needs <type> 05 and a 32-byte <identity>")
        }
        guard let signed = keys.child("skey"), let signedID = signed.child("id")?.bytes, signedID.count == 3,
              let signedKey = signed.child("value")?.bytes, signedKey.count == 32,
              let signature = signed.child("signature")?.bytes, signature.count == 64
        else {
            throw Problem("<keys> needs <skey> with a 3-byte <id>, a 32-byte <value> and a 64-byte <signature>")
        }
        var oneTime: PreKeyBundle.OneTimePreKey?
        if let key = keys.child("key") {
            guard let keyID = key.child("id")?.bytes, keyID.count == 3, let value = key.child("value")?.bytes, value.count == 32 else {
                throw Problem("<keys><key> needs a 3-byte <id> and a 32-byte <value>")
            }
            oneTime = PreKeyBundle.OneTimePreKey(id: bigEndian(keyID), publicKey: value)
        }
        return PreKeyBundle(
            registrationID: registrationID, identityKey: identity, signedPreKeyID: bigEndian(signedID),
            signedPreKey: signedKey, signedPreKeySignature: signature, oneTimePreKey: oneTime
        )
    }

    private static func bigEndian(_ bytes: [UInt8]) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Why a retry receipt cannot be read.
    struct Problem: Error, Sendable, Hashable {
        let detail: String

        init(_ detail: String) {
            self.detail = detail
        }
    }
}
