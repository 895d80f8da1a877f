import Foundation
import SwiftProtobuf
import Testing
@testable import WAWire

@Suite struct CertificateChainTests {
    typealias Fixtures = HandshakeFixtures
    let pki = Fixtures.TestPKI()

    @Test func issuedChainVerifiesAgainstItsRoot() throws {
        let chain = try CertificateChain(
            verifying: pki.chain(), serverStaticKey: pki.serverStatic.publicKey,
            trustedRootKey: pki.root.publicKey, now: Fixtures.now
        )
        #expect(chain.intermediate.serial == 1)
        #expect(chain.intermediate.issuerSerial == 0)
        #expect(chain.intermediate.key == pki.intermediate.publicKey)
        #expect(chain.leaf.issuerSerial == chain.intermediate.serial)
        #expect(chain.leaf.key == pki.serverStatic.publicKey)
    }

    @Test func defaultTrustedRootIsWhatsApps() throws {
        #expect(
            CertificateChain.whatsAppRootKey
                == CryptoTestKit.bytes("142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b")
        )
        #expect(throws: CertificateChainError(.intermediateSignatureInvalid)) {
            try CertificateChain(verifying: pki.chain(), serverStaticKey: pki.serverStatic.publicKey, now: Fixtures.now)
        }
    }

    @Test func validityWindowsIncludeBothEnds() throws {
        let chain = CertificateChain(
            intermediate: .init(serial: 7, issuerSerial: 0, key: pki.intermediate.publicKey, notBefore: 100, notAfter: 200),
            leaf: .init(serial: 8, issuerSerial: 7, key: pki.serverStatic.publicKey, notBefore: 100, notAfter: 200)
        ).signed(rootKey: pki.root, intermediateKey: pki.intermediate)
        for now: UInt64 in [100, 200] {
            _ = try CertificateChain(
                verifying: chain, serverStaticKey: pki.serverStatic.publicKey, trustedRootKey: pki.root.publicKey, now: now
            )
        }
    }

    @Test(arguments: ChainDefect.allCases)
    func eachFailedCheckIsReportedAsItsOwnError(defect: ChainDefect) {
        #expect(throws: CertificateChainError(defect.expectedCode)) {
            try CertificateChain(
                verifying: defect.chain(pki), serverStaticKey: pki.serverStatic.publicKey,
                trustedRootKey: pki.root.publicKey, now: Fixtures.now
            )
        }
    }

    @Test func errorDescriptionNamesTheCheckOnly() {
        #expect(CertificateChainError(.leafKeyMismatch).description == "CertificateChainError(leaf_key_mismatch)")
    }
}

/// One broken chain per check of transport.md §3.3, in the order the checks run.
enum ChainDefect: CaseIterable, Sendable {
    case tooLarge, notProtobuf
    case noIntermediate, intermediateWithoutSignature, noLeaf, leafWithoutDetails
    case shortIntermediateSignature, longLeafSignature
    case intermediateSignedByAnotherRoot, intermediateDetailsNotProtobuf, intermediateIssuedByNonRoot
    case intermediateKeyTooShort, leafSignedByRoot
    case intermediateNotYetValid, intermediateExpired
    case leafDetailsNotProtobuf, leafIssuedByAnotherIntermediate, leafForAnotherKey
    case leafNotYetValid, leafExpired

    var expectedCode: CertificateChainError.Code {
        switch self {
        case .tooLarge: .tooLarge
        case .notProtobuf: .malformed
        case .noIntermediate, .intermediateWithoutSignature: .missingIntermediate
        case .noLeaf, .leafWithoutDetails: .missingLeaf
        case .shortIntermediateSignature: .intermediateSignatureLength
        case .longLeafSignature: .leafSignatureLength
        case .intermediateSignedByAnotherRoot: .intermediateSignatureInvalid
        case .intermediateDetailsNotProtobuf: .malformedIntermediateDetails
        case .intermediateIssuedByNonRoot: .intermediateNotIssuedByRoot
        case .intermediateKeyTooShort: .intermediateKeyLength
        case .leafSignedByRoot: .leafSignatureInvalid
        case .intermediateNotYetValid: .intermediateNotYetValid
        case .intermediateExpired: .intermediateExpired
        case .leafDetailsNotProtobuf: .malformedLeafDetails
        case .leafIssuedByAnotherIntermediate: .leafIssuerMismatch
        case .leafForAnotherKey: .leafKeyMismatch
        case .leafNotYetValid: .leafNotYetValid
        case .leafExpired: .leafExpired
        }
    }

    func chain(_ pki: HandshakeFixtures.TestPKI) -> [UInt8] {
        let now = HandshakeFixtures.now
        var intermediate = CertificateChain.Details(
            serial: 1, issuerSerial: 0, key: pki.intermediate.publicKey, notBefore: now - 10, notAfter: now + 10
        )
        var leaf = CertificateChain.Details(
            serial: 2, issuerSerial: 1, key: pki.serverStatic.publicKey, notBefore: now - 10, notAfter: now + 10
        )
        var rootKey = pki.root
        var leafSigner = pki.intermediate
        switch self {
        case .tooLarge:
            return [UInt8](repeating: 0, count: CertificateChain.maxSerializedSize + 1)
        case .notProtobuf:
            return [0x0A, 0x05, 0x01]
        case .intermediateSignedByAnotherRoot:
            rootKey = pki.intermediate
        case .intermediateIssuedByNonRoot:
            intermediate.issuerSerial = 3
        case .intermediateKeyTooShort:
            intermediate.key.removeLast()
        case .leafSignedByRoot:
            leafSigner = pki.root
        case .intermediateNotYetValid:
            intermediate.notBefore = now + 1
        case .intermediateExpired:
            intermediate.notAfter = now - 1
        case .leafIssuedByAnotherIntermediate:
            leaf.issuerSerial = 9
        case .leafForAnotherKey:
            leaf.key = pki.root.publicKey
        case .leafNotYetValid:
            leaf.notBefore = now + 1
        case .leafExpired:
            leaf.notAfter = now - 1
        default:
            break
        }
        let bytes = CertificateChain(intermediate: intermediate, leaf: leaf)
            .signed(rootKey: rootKey, intermediateKey: leafSigner)
        return edited(bytes, pki)
    }

    // Defects the builder cannot express are made by editing the signed protobuf.
    private func edited(_ bytes: [UInt8], _ pki: HandshakeFixtures.TestPKI) -> [UInt8] {
        var chain = try! WACertChain(serializedBytes: bytes)
        switch self {
        case .noIntermediate:
            chain.clearIntermediate()
        case .intermediateWithoutSignature:
            chain.intermediate.clearSignature()
        case .noLeaf:
            chain.clearLeaf()
        case .leafWithoutDetails:
            chain.leaf.clearDetails()
        case .shortIntermediateSignature:
            chain.intermediate.signature.removeLast()
        case .longLeafSignature:
            chain.leaf.signature.append(0)
        case .intermediateDetailsNotProtobuf:
            chain.intermediate = Self.signedGarbage(by: pki.root)
        case .leafDetailsNotProtobuf:
            chain.leaf = Self.signedGarbage(by: pki.intermediate)
        default:
            return bytes
        }
        return try! chain.serializedBytes()
    }

    // Correctly signed bytes that are not a Details message (a length running past the end).
    private static func signedGarbage(by key: Curve25519KeyPair) -> WACertChain.NoiseCertificate {
        let details: [UInt8] = [0x1A, 0x20, 0x01]
        var certificate = WACertChain.NoiseCertificate()
        certificate.details = Data(details)
        certificate.signature = Data(CurveSignature.sign(details, privateKey: key.privateKey))
        return certificate
    }
}
