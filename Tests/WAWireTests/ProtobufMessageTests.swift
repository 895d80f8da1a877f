import Foundation
import SwiftProtobuf
import Testing
@testable import WAWire

/// Field numbers and wire forms of our hand-written .proto files, checked against the protocol notes.
@Suite struct ProtobufMessageTests {
    typealias Fixtures = HandshakeFixtures

    @Test func clientHelloIsFieldTwoWithTheEphemeralInFieldOne() throws {
        let ephemeral = CryptoTestKit.bytes("ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944")
        var message = WAHandshakeMessage()
        message.clientHello.ephemeral = Data(ephemeral)
        let bytes: [UInt8] = try message.serializedBytes()
        #expect(bytes == [0x12, 0x22, 0x0A, 0x20] + ephemeral)
    }

    @Test func serverHelloAndClientFinishUseTheFramingOfTheKnownAnswerVector() throws {
        var serverHello = WAHandshakeMessage()
        serverHello.serverHello.ephemeral = Data(repeating: 0xE0, count: 32)
        serverHello.serverHello.static = Data(repeating: 0x5A, count: 48)
        serverHello.serverHello.payload = Data(repeating: 0x9A, count: 45)
        let serverBytes: [UInt8] = try serverHello.serializedBytes()
        #expect(CryptoTestKit.hex(Array(serverBytes.prefix(5))) == "1a83010a20")
        #expect(Array(serverBytes[37...38]) == [0x12, 0x30])
        #expect(Array(serverBytes[87...88]) == [0x1A, 0x2D])
        #expect(serverBytes.count == 3 + 131)

        var clientFinish = WAHandshakeMessage()
        clientFinish.clientFinish.static = Data(repeating: 0x5A, count: 48)
        clientFinish.clientFinish.payload = Data(repeating: 0x9A, count: 42)
        let clientBytes: [UInt8] = try clientFinish.serializedBytes()
        #expect(CryptoTestKit.hex(Array(clientBytes.prefix(4))) == "225e0a30")
        #expect(Array(clientBytes[52...53]) == [0x12, 0x2A])
    }

    @Test func unknownHandshakeFieldsSurviveARoundTrip() throws {
        // ClientHello with pqMode (field 9, not declared by us) = 4.
        let bytes = CryptoTestKit.bytes("12050a01aa4804")
        let message = try WAHandshakeMessage(serializedBytes: bytes)
        #expect(message.clientHello.ephemeral == Data([0xAA]))
        #expect(try message.serializedBytes() == bytes)
    }

    @Test func certificateDetailsUseFieldsOneToFive() throws {
        var details = WACertChain.NoiseCertificate.Details()
        details.serial = 1
        details.issuerSerial = 0
        details.key = Data(repeating: 0x11, count: 32)
        details.notBefore = 1
        details.notAfter = 2
        let bytes: [UInt8] = try details.serializedBytes()
        #expect(bytes == [0x08, 0x01, 0x10, 0x00, 0x1A, 0x20] + [UInt8](repeating: 0x11, count: 32) + [0x20, 0x01, 0x28, 0x02])

        var chain = WACertChain()
        chain.leaf.details = Data([0xAB])
        chain.intermediate.signature = Data([0xCD])
        #expect(try chain.serializedBytes() == CryptoTestKit.bytes("0a030a01ab12031201cd"))
    }

    @Test func advDeviceIdentityReproducesTheVectorWithExplicitZeroEnums() throws {
        var identity = WAADVDeviceIdentity()
        identity.rawID = 1_234_567_890
        identity.timestamp = 1_760_000_000
        identity.keyIndex = 19
        identity.accountType = .e2Ee
        identity.deviceType = .e2Ee
        #expect(try identity.serializedBytes() == (try Fixtures.pairing("pair_success", "ADVDeviceIdentity_bytes")))
    }

    @Test func advPairSuccessContainerNestsSignedIdentityAndDeviceIdentity() throws {
        let bytes = try Fixtures.pairing("pair_success", "ADVSignedDeviceIdentityHMAC_bytes")
        let container = try WAADVSignedDeviceIdentityHMAC(serializedBytes: bytes)
        #expect([UInt8](container.hmac) == (try Fixtures.pairing("pair_success", "hmac_sha256")))
        #expect(!container.hasAccountType)
        let signed = try WAADVSignedDeviceIdentity(serializedBytes: container.details)
        #expect(
            [UInt8](signed.accountSignatureKey)
                == (try Fixtures.pairing("pair_success", "primary_identity_pub_aka_accountSignatureKey"))
        )
        #expect([UInt8](signed.accountSignature) == (try Fixtures.pairing("pair_success", "accountSignature")))
        #expect(!signed.hasDeviceSignature)
        let identity = try WAADVDeviceIdentity(serializedBytes: signed.details)
        #expect(identity.rawID == 1_234_567_890 && identity.timestamp == 1_760_000_000 && identity.keyIndex == 19)
        #expect(identity.hasAccountType && identity.accountType == .e2Ee && identity.deviceType == .e2Ee)
        #expect(try container.serializedBytes() == bytes)
    }

    @Test func pairDeviceSignReplySerializesAsTheVector() throws {
        var reply = WAADVSignedDeviceIdentity()
        reply.details = Data(try Fixtures.pairing("pair_success", "ADVDeviceIdentity_bytes"))
        reply.accountSignature = Data(try Fixtures.pairing("pair_success", "accountSignature"))
        reply.deviceSignature = Data(try Fixtures.pairing("pair_device_sign", "deviceSignature_deterministic"))
        #expect(
            try reply.serializedBytes()
                == (try Fixtures.pairing("pair_device_sign", "reply_ADVSignedDeviceIdentity_bytes_deterministic"))
        )
    }

    @Test func hostedAccountTypeIsOne() throws {
        var container = WAADVSignedDeviceIdentityHMAC()
        container.accountType = .hosted
        #expect(try container.serializedBytes() == [0x18, 0x01])
    }

    @Test func keyIndexListPacksValidIndexes() throws {
        var list = WAADVKeyIndexList()
        list.validIndexes = [1, 2, 300]
        #expect(try list.serializedBytes() == CryptoTestKit.bytes("22040102ac02"))
        var signed = WAADVSignedKeyIndexList()
        signed.details = Data([1])
        signed.accountSignature = Data([2])
        signed.accountSignatureKey = Data([3])
        #expect(try signed.serializedBytes() == CryptoTestKit.bytes("0a01011201021a0103"))
    }

    @Test func devicePropsUseTheTableFieldNumbers() throws {
        var props = WADeviceProps()
        props.os = "X"
        props.version.primary = 0
        props.platformType = .smartglasses
        props.requireFullSync = false
        props.historySyncConfig.supportInlineContacts = true
        #expect(try props.serializedBytes() == CryptoTestKit.bytes("0a015812020800181820002a03c00101"))
    }
}
