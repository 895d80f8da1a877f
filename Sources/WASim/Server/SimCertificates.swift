import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A throwaway certificate authority and a server certificate it signed, for `pairgate sim --tls` and for
/// tests: clients trust `caPEM` (e.g. `pairgate link --ca-file`), the server presents the rest.
/// Secret: `serverKeyPEM` is a private key.
public struct SimCertificates: Sendable {
    /// The CA certificate, PEM.
    public let caPEM: String
    /// The server certificate, PEM; it names `hosts` (DNS names and IP addresses).
    public let serverCertificatePEM: String
    /// The server's P-256 private key, PEM (PKCS#8).
    public let serverKeyPEM: String

    /// A new CA and a server certificate for `hosts`, valid from an hour before `now` for `validity`.
    public static func generate(
        hosts: [String] = ["localhost", "127.0.0.1", "::1"],
        now: Date = Date(),
        validity: TimeInterval = 30 * 24 * 3600
    ) throws -> SimCertificates {
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName {
            OrganizationName("Pairgate simulator")
            CommonName("Pairgate simulator test CA")
        }
        let notBefore = now.addingTimeInterval(-3600)
        let notAfter = now.addingTimeInterval(validity)
        let ca = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(caKey.publicKey),
            notValidBefore: notBefore,
            notValidAfter: notAfter,
            issuer: caName,
            subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(caKey.publicKey))
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey)
        )

        let serverKey = P256.Signing.PrivateKey()
        let names = hosts.map { host -> GeneralName in
            if let address = Self.ipAddressBytes(host) {
                return .ipAddress(ASN1OctetString(contentBytes: address[...]))
            }
            return .dnsName(host)
        }
        let server = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(serverKey.publicKey),
            notValidBefore: notBefore,
            notValidAfter: notAfter,
            issuer: caName,
            subject: try DistinguishedName { CommonName(hosts.first ?? "localhost") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey)
        )
        return SimCertificates(
            caPEM: try ca.serializeAsPEM().pemString,
            serverCertificatePEM: try server.serializeAsPEM().pemString,
            serverKeyPEM: serverKey.pemRepresentation
        )
    }

    public init(caPEM: String, serverCertificatePEM: String, serverKeyPEM: String) {
        self.caPEM = caPEM
        self.serverCertificatePEM = serverCertificatePEM
        self.serverKeyPEM = serverKeyPEM
    }

    /// The server's TLS context (certificate, then the CA, as the chain it presents).
    public func makeServerContext() throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(serverCertificatePEM.utf8))
            + NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8))
        let key = try NIOSSLPrivateKey(bytes: Array(serverKeyPEM.utf8), format: .pem)
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        return try NIOSSLContext(configuration: configuration)
    }

    /// The 4 or 16 bytes of an IPv4 or IPv6 literal; nil for a host name.
    private static func ipAddressBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
