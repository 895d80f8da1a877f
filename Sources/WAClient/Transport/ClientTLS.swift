import NIOSSL

/// The TLS settings of every `wss://` connection of one `UpstreamClient`. Build it once: the context
/// (with its parsed trust roots) is shared by all connections, which keeps each one small.
public struct ClientTLS: Sendable {
    /// Which certificate authorities the client trusts.
    public enum TrustRoots: Sendable, Hashable {
        /// The system's CA bundle.
        case system
        /// The certificates in this PEM file (a test CA, a corporate TLS proxy's CA).
        case pemFile(String)
        /// PEM bytes holding one or more certificates.
        case pem([UInt8])
    }

    /// The shared context; every connection makes its TLS handler from it.
    public let context: NIOSSLContext

    /// Loads the trust roots and builds the context; throws when the PEM cannot be read.
    public init(trustRoots: TrustRoots = .system) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch trustRoots {
        case .system:
            configuration.trustRoots = .default
        case .pemFile(let path):
            configuration.trustRoots = .file(path)
        case .pem(let bytes):
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(bytes))
        }
        context = try NIOSSLContext(configuration: configuration)
    }
}
