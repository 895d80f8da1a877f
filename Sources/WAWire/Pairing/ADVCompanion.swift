import Crypto
import Foundation
import SwiftProtobuf

/// Companion side of account-device verification: checks pair-success's `device-identity` and countersigns it (pairing.md §4.3–§4.4).
public enum ADVCompanion {
    /// A real container is about 160 bytes; the cap bounds what protobuf decoding may allocate.
    public static let maxDeviceIdentitySize = 4096

    /// Verifies `deviceIdentity` (the serialized ADVSignedDeviceIdentityHMAC) in whatsmeow's order and signs the reply.
    ///
    /// Errors map to the `<error>` reply through `PairingError.pairSuccessErrorReply`.
    public static func verify(
        deviceIdentity: [UInt8],
        advSecret: [UInt8],
        identity: Curve25519KeyPair
    ) throws(PairingError) -> ADVVerifiedIdentity {
        let message = try verifiedMessage(deviceIdentity: deviceIdentity, advSecret: advSecret, identity: identity)
        let deviceSignature = CurveSignature.sign(message.deviceSignatureMessage, privateKey: identity.privateKey)
        return try message.signed(deviceSignature)
    }

    /// As `verify(deviceIdentity:advSecret:identity:)`, with the signature's 64 random bytes drawn from `rng`.
    public static func verify(
        deviceIdentity: [UInt8],
        advSecret: [UInt8],
        identity: Curve25519KeyPair,
        using rng: inout some RandomNumberGenerator
    ) throws(PairingError) -> ADVVerifiedIdentity {
        let message = try verifiedMessage(deviceIdentity: deviceIdentity, advSecret: advSecret, identity: identity)
        let randomness = rng.bytes(64)
        do {
            let signature = try CurveSignature.sign(
                message.deviceSignatureMessage, privateKey: identity.privateKey, randomness: randomness
            )
            return try message.signed(signature)
        } catch {
            throw PairingError(.advEncodingFailed)
        }
    }

    /// Everything up to the device signature: the checks that can fail because of the phone or the network.
    static func verifiedMessage(
        deviceIdentity: [UInt8],
        advSecret: [UInt8],
        identity: Curve25519KeyPair
    ) throws(PairingError) -> Unsigned {
        guard advSecret.count == 32 else { throw PairingError(.keyLength) }
        guard deviceIdentity.count <= maxDeviceIdentitySize else { throw PairingError(.advContainerTooLarge) }
        let container: WAADVSignedDeviceIdentityHMAC
        do {
            container = try WAADVSignedDeviceIdentityHMAC(serializedBytes: deviceIdentity)
        } catch {
            throw PairingError(.advMalformedContainer)
        }

        // The HMAC prefix follows the container's account type, not the inner device type (pairing.md §4.3).
        let hmacMessage = (container.accountType == .hosted ? ADVPrefix.hostedAccount : []) + [UInt8](container.details)
        guard HMAC<SHA256>.isValidAuthenticationCode(
            [UInt8](container.hmac), authenticating: hmacMessage, using: SymmetricKey(data: advSecret)
        ) else {
            throw PairingError(.advHMACMismatch)
        }

        let signedIdentity: WAADVSignedDeviceIdentity
        do {
            signedIdentity = try WAADVSignedDeviceIdentity(serializedBytes: container.details)
        } catch {
            throw PairingError(.advMalformedSignedIdentity)
        }
        let details = [UInt8](signedIdentity.details)
        let deviceIdentity: WAADVDeviceIdentity
        do {
            deviceIdentity = try WAADVDeviceIdentity(serializedBytes: details)
        } catch {
            throw PairingError(.advMalformedDeviceIdentity)
        }

        let accountSignatureKey = [UInt8](signedIdentity.accountSignatureKey)
        let accountSignature = [UInt8](signedIdentity.accountSignature)
        let hosted = deviceIdentity.deviceType == .hosted
        // whatsmeow answers wrong lengths like a bad signature: both mean the phone's proof does not hold.
        guard accountSignatureKey.count == 32, accountSignature.count == 64,
              CurveSignature.isValid(
                  accountSignature,
                  for: ADVPrefix.accountSignatureMessage(details: details, companionIdentity: identity.publicKey, hosted: hosted),
                  publicKey: accountSignatureKey
              )
        else {
            throw PairingError(.advAccountSignatureMismatch)
        }
        return Unsigned(
            details: details,
            rawID: deviceIdentity.rawID,
            timestamp: deviceIdentity.timestamp,
            keyIndex: deviceIdentity.keyIndex,
            isHosted: hosted,
            accountSignatureKey: accountSignatureKey,
            accountSignature: accountSignature,
            deviceSignatureMessage: ADVPrefix.deviceSignatureMessage(
                details: details, companionIdentity: identity.publicKey, accountSignatureKey: accountSignatureKey
            )
        )
    }

    /// A verified identity still waiting for the companion's device signature.
    struct Unsigned {
        let details: [UInt8]
        let rawID: UInt32
        let timestamp: UInt64
        let keyIndex: UInt32
        let isHosted: Bool
        let accountSignatureKey: [UInt8]
        let accountSignature: [UInt8]
        let deviceSignatureMessage: [UInt8]

        func signed(_ deviceSignature: [UInt8]) throws(PairingError) -> ADVVerifiedIdentity {
            var account = WAADVSignedDeviceIdentity()
            account.details = Data(details)
            account.accountSignatureKey = Data(accountSignatureKey)
            account.accountSignature = Data(accountSignature)
            account.deviceSignature = Data(deviceSignature)
            var reply = account
            reply.clearAccountSignatureKey()
            do {
                return ADVVerifiedIdentity(
                    details: details,
                    rawID: rawID,
                    timestamp: timestamp,
                    keyIndex: keyIndex,
                    isHosted: isHosted,
                    accountSignatureKey: accountSignatureKey,
                    accountSignature: accountSignature,
                    deviceSignature: deviceSignature,
                    account: try account.serializedBytes(),
                    reply: try reply.serializedBytes()
                )
            } catch {
                throw PairingError(.advEncodingFailed)
            }
        }
    }
}

/// A pair-success identity the companion verified and countersigned: what to persist and what to answer.
public struct ADVVerifiedIdentity: Sendable, Hashable {
    /// The serialized ADVDeviceIdentity both signatures cover, byte for byte as the phone sent it.
    public let details: [UInt8]
    public let rawID: UInt32
    public let timestamp: UInt64
    /// Sent back as the `key-index` attribute of `<device-identity>`.
    public let keyIndex: UInt32
    /// ADVDeviceIdentity.deviceType is HOSTED.
    public let isHosted: Bool
    /// The phone's identity key (raw 32 bytes), stored as the account's Signal identity.
    public let accountSignatureKey: [UInt8]
    public let accountSignature: [UInt8]
    public let deviceSignature: [UInt8]
    /// ADVSignedDeviceIdentity with all four fields: the account record to persist.
    public let account: [UInt8]
    /// ADVSignedDeviceIdentity without accountSignatureKey: the content of `<pair-device-sign><device-identity>`.
    public let reply: [UInt8]

    /// The `key-index` attribute value, in decimal.
    public var keyIndexAttribute: String { String(keyIndex) }
}

/// The two-byte prefixes that keep ADV signatures and MACs from being replayed across roles.
enum ADVPrefix {
    static let account: [UInt8] = [0x06, 0x00]
    static let device: [UInt8] = [0x06, 0x01]
    static let hostedAccount: [UInt8] = [0x06, 0x05]

    static func accountSignatureMessage(details: [UInt8], companionIdentity: [UInt8], hosted: Bool) -> [UInt8] {
        (hosted ? hostedAccount : account) + details + companionIdentity
    }

    /// Both reference clients use 06 01 even for hosted devices; 06 06 is defined but unused.
    static func deviceSignatureMessage(details: [UInt8], companionIdentity: [UInt8], accountSignatureKey: [UInt8]) -> [UInt8] {
        device + details + companionIdentity + accountSignatureKey
    }
}
