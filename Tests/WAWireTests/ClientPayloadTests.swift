import Foundation
import SwiftProtobuf
import Testing
@testable import WAWire

@Suite struct WebClientVersionTests {
    @Test func parsesAndPrintsTheDottedForm() throws {
        let version = try #require(WebClientVersion("2.3000.1045649367"))
        #expect(version == .pinned)
        #expect(version.primary == 2 && version.secondary == 3000 && version.tertiary == 1_045_649_367)
        #expect(version.description == "2.3000.1045649367")
    }

    @Test(arguments: ["", "2.3000", "2.3000.1.4", "2..1", "2.3000.", "+2.3000.1", "2.3000.-1", "2.3000.4294967296", "a.b.c", " 2.3.4"])
    func rejectsAnythingButThreeDecimalNumbers(text: String) {
        #expect(WebClientVersion(text) == nil)
    }

    @Test func buildHashIsTheMD5OfTheVersionString() {
        #expect(CryptoTestKit.hex(WebClientVersion.pinned.buildHash) == "9fa53af9421567b114e33c9bb1ef7db2")
    }
}

@Suite struct ClientPayloadBuilderTests {
    typealias Fixtures = HandshakeFixtures

    @Test func loginPayloadMatchesTheProtocolNotesExampleByteForByte() throws {
        let payload = ClientPayloadBuilder().loginPayload(username: 15_551_234_567, device: 12)
        let bytes: [UInt8] = try payload.serializedBytes()
        #expect(
            CryptoTestKit.hex(bytes)
                == "088784b4f73918012a38080e120b080210b81718d7afcdf2031a0330303022033030302a03302e3132003a074465736b746f70"
                + "4203302e3150005a02656e62025553320220006001680190010cc00101880201c80201"
        )
        #expect(bytes.count == 86)
    }

    @Test func registrationPayloadCarriesKeysInTheirWireWidths() throws {
        let keys = try Self.companionKeys()
        let payload = try ClientPayloadBuilder().registrationPayload(keys: keys)
        let pairing = payload.devicePairingData
        #expect(CryptoTestKit.hex([UInt8](pairing.eRegid)) == CryptoTestKit.hex(try Fixtures.pairing("companion", "e_regid")))
        #expect([UInt8](pairing.eKeytype) == [0x05])
        #expect([UInt8](pairing.eIdent) == keys.identityKey)
        #expect([UInt8](pairing.eSkeyID) == (try Fixtures.pairing("companion", "e_skey_id")))
        #expect([UInt8](pairing.eSkeyVal) == keys.signedPreKey)
        #expect([UInt8](pairing.eSkeySig) == keys.signedPreKeySignature)
        #expect([UInt8](pairing.buildHash) == WebClientVersion.pinned.buildHash)
        let props = try WADeviceProps(serializedBytes: pairing.deviceProps)
        #expect(props == ClientPayloadBuilder.defaultDeviceProps)
        #expect(props.historySyncConfig.storageQuotaMb == 10240)
        #expect(!payload.hasUsername && !payload.hasDevice && !payload.hasLc && !payload.hasLidDbMigrated)
    }

    @Test func registrationSendsPassiveAndPullAsExplicitFalse() throws {
        let payload = try ClientPayloadBuilder().registrationPayload(keys: try Self.companionKeys())
        #expect(payload.hasPassive && !payload.passive)
        #expect(payload.hasPull && !payload.pull)
        let bytes: [UInt8] = try payload.serializedBytes()
        // passive (field 3) = 0 and pull (field 33) = 0 are on the wire.
        #expect(bytes.starts(with: [0x18, 0x00]))
        #expect(CryptoTestKit.hex(bytes).contains("880200"))
    }

    @Test func configuredValuesReachTheUserAgentAndDeviceProps() throws {
        var builder = ClientPayloadBuilder()
        builder.version = try #require(WebClientVersion("2.3000.1035194821"))
        builder.platform = .macos
        builder.osVersion = "14.5"
        builder.localeLanguage = "pt"
        builder.localeCountry = "BR"
        builder.webSubPlatform = .darwin
        builder.deviceProps.os = "Acme Gateway"
        builder.deviceProps.platformType = .chrome
        let payload = try builder.registrationPayload(keys: try Self.companionKeys())
        #expect(payload.userAgent.appVersion.tertiary == 1_035_194_821)
        #expect(payload.userAgent.platform == .macos)
        #expect(payload.userAgent.osVersion == "14.5")
        #expect(payload.userAgent.localeLanguageIso6391 == "pt")
        #expect(payload.userAgent.localeCountryIso31661Alpha2 == "BR")
        #expect(payload.webInfo.webSubPlatform == .darwin)
        #expect([UInt8](payload.devicePairingData.buildHash) == builder.version.buildHash)
        let props = try WADeviceProps(serializedBytes: payload.devicePairingData.deviceProps)
        #expect(props.os == "Acme Gateway" && props.platformType == .chrome)
    }

    @Test func registrationRefusesKeysOfTheWrongSize() throws {
        let good = try Self.companionKeys()
        var keys = good
        keys.identityKey.removeLast()
        #expect(throws: ClientPayloadError(.identityKeyLength)) { try ClientPayloadBuilder().registrationPayload(keys: keys) }
        keys = good
        keys.signedPreKeyID = 0x100_0000
        #expect(throws: ClientPayloadError(.signedPreKeyIDOutOfRange)) { try ClientPayloadBuilder().registrationPayload(keys: keys) }
        keys = good
        keys.signedPreKey.append(0)
        #expect(throws: ClientPayloadError(.signedPreKeyLength)) { try ClientPayloadBuilder().registrationPayload(keys: keys) }
        keys = good
        keys.signedPreKeySignature = []
        #expect(throws: ClientPayloadError(.signatureLength)) { try ClientPayloadBuilder().registrationPayload(keys: keys) }
    }

    /// The companion of pairing.json, with its libsignal-style signed pre-key signature.
    static func companionKeys() throws -> RegistrationKeys {
        RegistrationKeys(
            registrationID: 49_760_515,
            identityKey: try HandshakeFixtures.pairing("companion", "identity_pub"),
            signedPreKeyID: 1,
            signedPreKey: try HandshakeFixtures.pairing("companion", "signed_prekey_pub"),
            signedPreKeySignature: try HandshakeFixtures.pairing("companion", "signed_prekey_sig_libsignal_with_random")
        )
    }
}

@Suite struct ParsedClientPayloadTests {
    typealias Fixtures = HandshakeFixtures

    @Test func registrationIsRecognisedWithItsKeys() throws {
        let keys = try ClientPayloadBuilderTests.companionKeys()
        let bytes: [UInt8] = try ClientPayloadBuilder().registrationPayload(keys: keys).serializedBytes()
        let parsed = try ParsedClientPayload(parsing: bytes)
        #expect(
            parsed.kind == .registration(
                keys, buildHash: WebClientVersion.pinned.buildHash, deviceProps: ClientPayloadBuilder.defaultDeviceProps
            )
        )
        #expect(parsed.payload.userAgent.appVersion.tertiary == WebClientVersion.pinned.tertiary)
    }

    @Test func loginIsRecognisedWithUsernameAndDevice() throws {
        let bytes: [UInt8] = try ClientPayloadBuilder().loginPayload(username: 15_551_234_567, device: 12).serializedBytes()
        let parsed = try ParsedClientPayload(parsing: bytes)
        #expect(parsed.kind == .login(username: 15_551_234_567, device: 12))
        #expect(parsed.payload.passive && parsed.payload.pull)
    }

    @Test func oversizedInputIsRefusedBeforeDecoding() {
        let bytes = [UInt8](repeating: 0x08, count: ParsedClientPayload.maxSerializedSize + 1)
        #expect(throws: ClientPayloadError(.tooLarge)) { try ParsedClientPayload(parsing: bytes) }
    }

    @Test func nonProtobufIsMalformed() {
        #expect(throws: ClientPayloadError(.malformed)) { try ParsedClientPayload(parsing: [0x2A, 0x10, 0x00]) }
    }

    @Test(arguments: PayloadDefect.allCases)
    func eachRefusalHasItsOwnCode(defect: PayloadDefect) throws {
        let bytes: [UInt8] = try defect.payload().serializedBytes()
        #expect(throws: ClientPayloadError(defect.expectedCode)) { try ParsedClientPayload(parsing: bytes) }
    }
}

/// A payload that is a valid protobuf but not a usable registration or login.
enum PayloadDefect: CaseIterable, Sendable {
    case noUserAgent, loginAndRegistration, neither, loginWithoutDevice
    case shortRegistrationID, keyTypeNot05, shortIdentityKey, fourByteSignedPreKeyID, longSignedPreKey
    case shortSignature, tamperedSignature, longBuildHash, devicePropsNotProtobuf

    var expectedCode: ClientPayloadError.Code {
        switch self {
        case .noUserAgent: .missingUserAgent
        case .loginAndRegistration: .bothLoginAndRegistration
        case .neither: .neitherLoginNorRegistration
        case .loginWithoutDevice: .missingDevice
        case .shortRegistrationID: .registrationIDLength
        case .keyTypeNot05: .unsupportedKeyType
        case .shortIdentityKey: .identityKeyLength
        case .fourByteSignedPreKeyID: .signedPreKeyIDOutOfRange
        case .longSignedPreKey: .signedPreKeyLength
        case .shortSignature: .signatureLength
        case .tamperedSignature: .signatureInvalid
        case .longBuildHash: .buildHashLength
        case .devicePropsNotProtobuf: .malformedDeviceProps
        }
    }

    func payload() throws -> WAClientPayload {
        var payload = try ClientPayloadBuilder().registrationPayload(keys: try ClientPayloadBuilderTests.companionKeys())
        switch self {
        case .noUserAgent: payload.clearUserAgent()
        case .loginAndRegistration: payload.username = 1
        case .neither: payload.clearDevicePairingData()
        case .loginWithoutDevice:
            payload = ClientPayloadBuilder().loginPayload(username: 1, device: 1)
            payload.clearDevice()
        case .shortRegistrationID: payload.devicePairingData.eRegid = Data([1, 2, 3])
        case .keyTypeNot05: payload.devicePairingData.eKeytype = Data([0x05, 0x00])
        case .shortIdentityKey: payload.devicePairingData.eIdent.removeLast()
        case .fourByteSignedPreKeyID: payload.devicePairingData.eSkeyID = Data([0, 0, 0, 1])
        case .longSignedPreKey: payload.devicePairingData.eSkeyVal.append(0)
        case .shortSignature: payload.devicePairingData.eSkeySig.removeLast()
        case .tamperedSignature: payload.devicePairingData.eSkeySig[0] ^= 1
        case .longBuildHash: payload.devicePairingData.buildHash.append(0)
        case .devicePropsNotProtobuf: payload.devicePairingData.deviceProps = Data([0x0A, 0x7F])
        }
        return payload
    }
}
