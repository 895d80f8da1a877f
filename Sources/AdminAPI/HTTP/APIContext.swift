import Foundation
import Hummingbird
import NIOCore

/// Per-request state: the peer address (for trusted proxies) and, on tenant routes, the tenant
/// the Host header selected and how the caller proved access to it.
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let peer: SocketAddress?
    public var tenant: TenantAccess?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress
    }

    /// Request bodies are small JSON documents; anything larger is refused with 413.
    public var maxUploadSize: Int { APIContext.bodyLimit }
    static let bodyLimit = 64 * 1024
}

/// The tenant of a request and the credential that opened it.
public struct TenantAccess: Sendable, Hashable {
    public enum Credential: Sendable, Hashable {
        /// A tenant API token (its id).
        case token(UUID)
        /// A signed pairing-page link, valid for this one pairing.
        case link(pairingID: UUID)
    }
    public var tenantID: UUID
    public var host: String
    public var credential: Credential
}

extension APIContext {
    /// The tenant the middleware admitted; routes behind it always have one.
    func requireTenant() throws -> TenantAccess {
        guard let tenant else { throw APIError.unauthorized }
        return tenant
    }
}
