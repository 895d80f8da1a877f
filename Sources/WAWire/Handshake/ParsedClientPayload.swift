import Foundation
import SwiftProtobuf

/// A ClientPayload as the server reads it from ClientFinish: size-limited, checked, and classified.
public struct ParsedClientPayload: Sendable {
    /// Whether the companion asks to be paired or logs in as an already paired device.
    public enum Kind: Sendable, Hashable {
        /// A new companion; `buildHash` is the MD5 of its version string.
        case registration(RegistrationKeys, buildHash: [UInt8], deviceProps: WADeviceProps)
        /// A paired companion: its phone number and device number.
        case login(username: UInt64, device: UInt32)
    }

    /// Real payloads are a few hundred bytes; anything far larger is refused before decoding.
    public static let maxSerializedSize = 8192

    public let kind: Kind
    /// The whole message, for the user agent, web info and connect reason.
    public let payload: WAClientPayload

    /// Parses and checks `bytes`, the decrypted payload of ClientFinish.
    public init(parsing bytes: [UInt8]) throws(ClientPayloadError) {
        guard bytes.count <= Self.maxSerializedSize else {
            throw ClientPayloadError(.tooLarge)
        }
        let payload: WAClientPayload
        do {
            payload = try WAClientPayload(serializedBytes: bytes)
        } catch {
            throw ClientPayloadError(.malformed)
        }
        guard payload.hasUserAgent else {
            throw ClientPayloadError(.missingUserAgent)
        }
        switch (payload.hasUsername, payload.hasDevicePairingData) {
        case (true, true):
            throw ClientPayloadError(.bothLoginAndRegistration)
        case (false, false):
            throw ClientPayloadError(.neitherLoginNorRegistration)
        case (true, false):
            guard payload.hasDevice else {
                throw ClientPayloadError(.missingDevice)
            }
            kind = .login(username: payload.username, device: payload.device)
        case (false, true):
            kind = try Self.registration(payload.devicePairingData)
        }
        self.payload = payload
    }

    private static func registration(
        _ data: WAClientPayload.DevicePairingRegistrationData
    ) throws(ClientPayloadError) -> Kind {
        let registrationID = [UInt8](data.eRegid)
        guard registrationID.count == 4 else {
            throw ClientPayloadError(.registrationIDLength)
        }
        guard [UInt8](data.eKeytype) == [RegistrationKeys.keyType] else {
            throw ClientPayloadError(.unsupportedKeyType)
        }
        let identityKey = [UInt8](data.eIdent)
        guard identityKey.count == 32 else {
            throw ClientPayloadError(.identityKeyLength)
        }
        let signedPreKeyID = [UInt8](data.eSkeyID)
        guard signedPreKeyID.count == 3 else {
            throw ClientPayloadError(.signedPreKeyIDOutOfRange)
        }
        let signedPreKey = [UInt8](data.eSkeyVal)
        guard signedPreKey.count == 32 else {
            throw ClientPayloadError(.signedPreKeyLength)
        }
        let signature = [UInt8](data.eSkeySig)
        guard signature.count == 64 else {
            throw ClientPayloadError(.signatureLength)
        }
        let buildHash = [UInt8](data.buildHash)
        guard buildHash.count == 16 else {
            throw ClientPayloadError(.buildHashLength)
        }
        let deviceProps: WADeviceProps
        do {
            deviceProps = try WADeviceProps(serializedBytes: data.deviceProps)
        } catch {
            throw ClientPayloadError(.malformedDeviceProps)
        }
        let keys = RegistrationKeys(
            registrationID: bigEndian(registrationID),
            identityKey: identityKey,
            signedPreKeyID: bigEndian(signedPreKeyID),
            signedPreKey: signedPreKey,
            signedPreKeySignature: signature
        )
        guard CurveSignature.isValid(signature, for: keys.signedPreKeyMessage, publicKey: identityKey) else {
            throw ClientPayloadError(.signatureInvalid)
        }
        return .registration(keys, buildHash: buildHash, deviceProps: deviceProps)
    }

    private static func bigEndian(_ bytes: [UInt8]) -> UInt32 {
        bytes.reduce(0) { value, byte in value << 8 | UInt32(byte) }
    }
}
