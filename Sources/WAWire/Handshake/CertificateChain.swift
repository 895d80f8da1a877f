import Foundation
import SwiftProtobuf

/// The server's Noise certificate chain (root → intermediate → leaf): issued by the simulator, verified by the client.
///
/// The leaf certifies the server's Noise static key, which is what ties the handshake to WhatsApp;
/// verification makes every check whatsmeow makes, in its order (transport.md §3.3).
public struct CertificateChain: Sendable, Hashable {
    /// What one certificate asserts: who it is, who issued it, its key and its validity window.
    public struct Details: Sendable, Hashable {
        public var serial: UInt32
        public var issuerSerial: UInt32
        /// X25519 public key, 32 bytes, without a 0x05 prefix.
        public var key: [UInt8]
        /// Unix seconds; the window is inclusive at both ends.
        public var notBefore: UInt64
        public var notAfter: UInt64

        public init(serial: UInt32, issuerSerial: UInt32, key: [UInt8], notBefore: UInt64, notAfter: UInt64) {
            self.serial = serial
            self.issuerSerial = issuerSerial
            self.key = key
            self.notBefore = notBefore
            self.notAfter = notAfter
        }
    }

    /// WhatsApp's root public key ("WhatsAppLongTerm1", serial 0), which signs the intermediates.
    public static let whatsAppRootKey: [UInt8] = [
        0x14, 0x23, 0x75, 0x57, 0x4D, 0x0A, 0x58, 0x71, 0x66, 0xAA, 0xE7, 0x1E, 0xBE, 0x51, 0x64, 0x37,
        0xC4, 0xA2, 0x8B, 0x73, 0xE3, 0x69, 0x5C, 0x6C, 0xE1, 0xF7, 0xF9, 0x54, 0x5D, 0xA8, 0xEE, 0x6B,
    ]

    /// The root's serial; an intermediate must name it as its issuer.
    public static let rootSerial: UInt32 = 0

    /// Real chains are about 250 bytes; anything far larger is refused before decoding.
    public static let maxSerializedSize = 4096

    public var intermediate: Details
    public var leaf: Details

    public init(intermediate: Details, leaf: Details) {
        self.intermediate = intermediate
        self.leaf = leaf
    }

    /// A well-formed chain for `serverStaticKey`, signed by `rootKey` through `intermediateKey`.
    public static func issue(
        rootKey: Curve25519KeyPair,
        intermediateKey: Curve25519KeyPair,
        serverStaticKey: [UInt8],
        notBefore: UInt64,
        notAfter: UInt64
    ) -> [UInt8] {
        let chain = CertificateChain(
            intermediate: Details(
                serial: 1, issuerSerial: rootSerial, key: intermediateKey.publicKey,
                notBefore: notBefore, notAfter: notAfter
            ),
            leaf: Details(
                serial: 2, issuerSerial: 1, key: serverStaticKey,
                notBefore: notBefore, notAfter: notAfter
            )
        )
        return chain.signed(rootKey: rootKey, intermediateKey: intermediateKey)
    }

    /// The serialized CertChain: intermediate details signed by `rootKey`, leaf details by `intermediateKey`.
    ///
    /// Nothing here checks that the details are consistent, so tests can build every broken chain.
    public func signed(rootKey: Curve25519KeyPair, intermediateKey: Curve25519KeyPair) -> [UInt8] {
        var chain = WACertChain()
        chain.intermediate = Self.certificate(intermediate, signedBy: rootKey)
        chain.leaf = Self.certificate(leaf, signedBy: intermediateKey)
        return Self.serialize(chain)
    }

    /// Verifies serialized chain `bytes` for the Noise static key `serverStaticKey` at `now` (Unix seconds).
    public init(
        verifying bytes: [UInt8],
        serverStaticKey: [UInt8],
        trustedRootKey: [UInt8] = CertificateChain.whatsAppRootKey,
        now: UInt64
    ) throws(CertificateChainError) {
        guard bytes.count <= Self.maxSerializedSize else {
            throw CertificateChainError(.tooLarge)
        }
        let chain: WACertChain
        do {
            chain = try WACertChain(serializedBytes: bytes)
        } catch {
            throw CertificateChainError(.malformed)
        }
        let intermediateCertificate = chain.intermediate
        let leafCertificate = chain.leaf
        guard chain.hasIntermediate, intermediateCertificate.hasDetails, intermediateCertificate.hasSignature else {
            throw CertificateChainError(.missingIntermediate)
        }
        guard chain.hasLeaf, leafCertificate.hasDetails, leafCertificate.hasSignature else {
            throw CertificateChainError(.missingLeaf)
        }
        let intermediateSignature = [UInt8](intermediateCertificate.signature)
        let leafSignature = [UInt8](leafCertificate.signature)
        guard intermediateSignature.count == 64 else {
            throw CertificateChainError(.intermediateSignatureLength)
        }
        guard leafSignature.count == 64 else {
            throw CertificateChainError(.leafSignatureLength)
        }

        let intermediateBytes = [UInt8](intermediateCertificate.details)
        guard CurveSignature.isValid(intermediateSignature, for: intermediateBytes, publicKey: trustedRootKey) else {
            throw CertificateChainError(.intermediateSignatureInvalid)
        }
        guard let intermediate = Self.details(intermediateBytes) else {
            throw CertificateChainError(.malformedIntermediateDetails)
        }
        guard intermediate.issuerSerial == Self.rootSerial else {
            throw CertificateChainError(.intermediateNotIssuedByRoot)
        }
        guard intermediate.key.count == 32 else {
            throw CertificateChainError(.intermediateKeyLength)
        }

        let leafBytes = [UInt8](leafCertificate.details)
        guard CurveSignature.isValid(leafSignature, for: leafBytes, publicKey: intermediate.key) else {
            throw CertificateChainError(.leafSignatureInvalid)
        }
        guard now >= intermediate.notBefore else {
            throw CertificateChainError(.intermediateNotYetValid)
        }
        guard now <= intermediate.notAfter else {
            throw CertificateChainError(.intermediateExpired)
        }
        guard let leaf = Self.details(leafBytes) else {
            throw CertificateChainError(.malformedLeafDetails)
        }
        guard leaf.issuerSerial == intermediate.serial else {
            throw CertificateChainError(.leafIssuerMismatch)
        }
        guard Self.constantTimeEqual(leaf.key, serverStaticKey) else {
            throw CertificateChainError(.leafKeyMismatch)
        }
        guard now >= leaf.notBefore else {
            throw CertificateChainError(.leafNotYetValid)
        }
        guard now <= leaf.notAfter else {
            throw CertificateChainError(.leafExpired)
        }
        self.init(intermediate: intermediate, leaf: leaf)
    }

    private static func certificate(_ details: Details, signedBy key: Curve25519KeyPair) -> WACertChain.NoiseCertificate {
        var message = WACertChain.NoiseCertificate.Details()
        message.serial = details.serial
        message.issuerSerial = details.issuerSerial
        message.key = Data(details.key)
        message.notBefore = details.notBefore
        message.notAfter = details.notAfter
        let detailsBytes = serialize(message)
        var certificate = WACertChain.NoiseCertificate()
        certificate.details = Data(detailsBytes)
        certificate.signature = Data(CurveSignature.sign(detailsBytes, privateKey: key.privateKey))
        return certificate
    }

    // Absent fields read as zero or empty, as in whatsmeow: a missing notAfter is already expired
    // and a missing key fails the length or key checks.
    private static func details(_ bytes: [UInt8]) -> Details? {
        guard let message = try? WACertChain.NoiseCertificate.Details(serializedBytes: bytes) else {
            return nil
        }
        return Details(
            serial: message.serial,
            issuerSerial: message.issuerSerial,
            key: [UInt8](message.key),
            notBefore: message.notBefore,
            notAfter: message.notAfter
        )
    }

    // Serializing only fails for missing required fields, and our .proto files declare none.
    private static func serialize(_ message: some SwiftProtobuf.Message) -> [UInt8] {
        try! message.serializedBytes()
    }

    // The server static key is public, but whatsmeow compares in constant time and so do we.
    private static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else {
            return false
        }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }
}
