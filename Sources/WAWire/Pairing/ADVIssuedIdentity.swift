import Crypto
import Foundation
import SwiftProtobuf

/// Phone side of account-device verification, for the simulator: the `device-identity` a phone sends in pair-success.
public struct ADVIssuedIdentity: Sendable, Hashable {
    /// The serialized ADVDeviceIdentity.
    public let details: [UInt8]
    public let keyIndex: UInt32
    /// Account and device type are both HOSTED (set together, as a consistent server would).
    public let isHosted: Bool
    /// The phone's identity public key.
    public let accountSignatureKey: [UInt8]
    public let accountSignature: [UInt8]
    public let companionIdentityPublicKey: [UInt8]
    /// The serialized ADVSignedDeviceIdentityHMAC: the content of `<pair-success><device-identity>`.
    public let deviceIdentity: [UInt8]

    /// Issues an identity for the companion whose identity key is `companionIdentityPublicKey`, signed by `account`.
    public static func issue(
        rawID: UInt32,
        timestamp: UInt64,
        keyIndex: UInt32,
        hosted: Bool,
        account: Curve25519KeyPair,
        companionIdentityPublicKey: [UInt8],
        advSecret: [UInt8],
        using rng: inout some RandomNumberGenerator
    ) throws(PairingError) -> ADVIssuedIdentity {
        guard companionIdentityPublicKey.count == 32 else { throw PairingError(.keyLength) }
        let details = try deviceIdentityDetails(rawID: rawID, timestamp: timestamp, keyIndex: keyIndex, hosted: hosted)
        let message = ADVPrefix.accountSignatureMessage(
            details: details, companionIdentity: companionIdentityPublicKey, hosted: hosted
        )
        let signature: [UInt8]
        do {
            signature = try CurveSignature.sign(
                message, privateKey: account.privateKey, randomness: rng.bytes(64)
            )
        } catch {
            throw PairingError(.advEncodingFailed)
        }
        return try ADVIssuedIdentity(
            details: details,
            keyIndex: keyIndex,
            hosted: hosted,
            accountSignatureKey: account.publicKey,
            accountSignature: signature,
            companionIdentityPublicKey: companionIdentityPublicKey,
            advSecret: advSecret
        )
    }

    /// Assembles the container from an existing account signature (replaying recorded vectors, or a signature made elsewhere).
    public init(
        details: [UInt8],
        keyIndex: UInt32,
        hosted: Bool,
        accountSignatureKey: [UInt8],
        accountSignature: [UInt8],
        companionIdentityPublicKey: [UInt8],
        advSecret: [UInt8]
    ) throws(PairingError) {
        guard accountSignatureKey.count == 32, accountSignature.count == 64,
              companionIdentityPublicKey.count == 32, advSecret.count == 32
        else {
            throw PairingError(.keyLength)
        }
        var signedIdentity = WAADVSignedDeviceIdentity()
        signedIdentity.details = Data(details)
        signedIdentity.accountSignatureKey = Data(accountSignatureKey)
        signedIdentity.accountSignature = Data(accountSignature)
        do {
            deviceIdentity = try Self.container(
                signedIdentity: signedIdentity.serializedBytes(), advSecret: advSecret, hosted: hosted
            )
        } catch {
            throw PairingError(.advEncodingFailed)
        }
        self.details = details
        self.keyIndex = keyIndex
        isHosted = hosted
        self.accountSignatureKey = accountSignatureKey
        self.accountSignature = accountSignature
        self.companionIdentityPublicKey = companionIdentityPublicKey
    }

    /// The ADVSignedDeviceIdentityHMAC around already serialized ADVSignedDeviceIdentity bytes.
    static func container(signedIdentity: [UInt8], advSecret: [UInt8], hosted: Bool) throws -> [UInt8] {
        var container = WAADVSignedDeviceIdentityHMAC()
        container.details = Data(signedIdentity)
        container.hmac = Data(HMAC<SHA256>.authenticationCode(
            for: (hosted ? ADVPrefix.hostedAccount : []) + signedIdentity, using: SymmetricKey(data: advSecret)
        ))
        // The real server writes `18 00` for E2EE; proto2 serializes a set field even at its default.
        container.accountType = hosted ? .hosted : .e2Ee
        return try container.serializedBytes()
    }

    /// Serialized ADVDeviceIdentity with every field present, zero enums included, as the real server encodes it.
    public static func deviceIdentityDetails(
        rawID: UInt32, timestamp: UInt64, keyIndex: UInt32, hosted: Bool
    ) throws(PairingError) -> [UInt8] {
        var identity = WAADVDeviceIdentity()
        identity.rawID = rawID
        identity.timestamp = timestamp
        identity.keyIndex = keyIndex
        identity.accountType = hosted ? .hosted : .e2Ee
        identity.deviceType = hosted ? .hosted : .e2Ee
        do {
            return try identity.serializedBytes()
        } catch {
            throw PairingError(.advEncodingFailed)
        }
    }

    /// Checks the companion's `<pair-device-sign>` answer against what was issued and returns its device signature.
    public func verifyReply(_ reply: [UInt8]) throws(PairingError) -> [UInt8] {
        guard reply.count <= ADVCompanion.maxDeviceIdentitySize else { throw PairingError(.advContainerTooLarge) }
        let signedIdentity: WAADVSignedDeviceIdentity
        do {
            signedIdentity = try WAADVSignedDeviceIdentity(serializedBytes: reply)
        } catch {
            throw PairingError(.advMalformedSignedIdentity)
        }
        guard [UInt8](signedIdentity.details) == details, [UInt8](signedIdentity.accountSignature) == accountSignature else {
            throw PairingError(.advReplyMismatch)
        }
        let deviceSignature = [UInt8](signedIdentity.deviceSignature)
        let message = ADVPrefix.deviceSignatureMessage(
            details: details, companionIdentity: companionIdentityPublicKey, accountSignatureKey: accountSignatureKey
        )
        guard CurveSignature.isValid(deviceSignature, for: message, publicKey: companionIdentityPublicKey) else {
            throw PairingError(.advDeviceSignatureMismatch)
        }
        return deviceSignature
    }
}
