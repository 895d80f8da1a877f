import Crypto
import DevicePool
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PostgresStore

/// Who may use a tenant route: the tenant is chosen by the Host header (port stripped,
/// case-insensitive, exact match; X-Forwarded-Host only from trusted proxies), then the caller
/// proves access with that tenant's bearer token — or, on the routes of the pairing page, with
/// the pairing's signed link.
struct TenantGate: Sendable {
    let directory: TenantDirectory
    let proxies: TrustedProxies
    let links: PairingLinkSigner
    let devices: PostgresDeviceStore
    let now: @Sendable () -> Date

    static let forwardedHost = HTTPField.Name("X-Forwarded-Host")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    /// The normalised host the request addresses.
    func host(of request: Request, peer: SocketAddress?) -> String? {
        authority(of: request, peer: peer).flatMap(HostName.fromHeader)
    }

    /// The Host value the client used: from a trusted proxy, the last X-Forwarded-Host value —
    /// the one that proxy appended; values before it came with the request, from anyone — else Host.
    func authority(of request: Request, peer: SocketAddress?) -> String? {
        if proxies.contains(peer), let forwarded = Self.lastValue(request.headers[values: Self.forwardedHost]) {
            return forwarded
        }
        return request.head.authority
    }

    /// `scheme://host[:port]` as the client reached the gateway, for absolute links.
    func origin(of request: Request, peer: SocketAddress?, host: String) -> String {
        let scheme = scheme(of: request, peer: peer)
        var port = ""
        if let authority = authority(of: request, peer: peer), !authority.hasSuffix("]"),
           let colon = authority.lastIndex(of: ":"), let number = Int(authority[authority.index(after: colon)...]),
           number != (scheme == "https" ? 443 : 80) {
            port = ":\(number)"
        }
        return "\(scheme)://\(host)\(port)"
    }

    /// `https` only when a trusted proxy says so (its value is the last, as for the host).
    func scheme(of request: Request, peer: SocketAddress?) -> String {
        if proxies.contains(peer), let proto = Self.lastValue(request.headers[values: Self.forwardedProto]) {
            return proto.lowercased() == "https" ? "https" : "http"
        }
        return "http"
    }

    /// The last element of a comma-separated header, over all its fields.
    static func lastValue(_ fields: [String]) -> String? {
        fields.last?.split(separator: ",", omittingEmptySubsequences: false).last.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    enum Failure: Error {
        case unknownHost
        case unauthorized
        case linkExpired
        case linkInvalid
        case disabled
        /// Too many lookups of unknown hosts or tokens are running (`TenantDirectory.Overloaded`).
        case overloaded
    }

    /// Resolves the tenant and checks the credential. `allowLink` admits a pairing link in the
    /// query instead of a token (page, events, QR image).
    func admit(_ request: Request, peer: SocketAddress?, allowLink: Bool) async throws -> TenantAccess {
        do {
            return try await lookUp(request, peer: peer, allowLink: allowLink)
        } catch is TenantDirectory.Overloaded {
            throw Failure.overloaded
        }
    }

    private func lookUp(_ request: Request, peer: SocketAddress?, allowLink: Bool) async throws -> TenantAccess {
        guard let host = host(of: request, peer: peer), let binding = try await directory.binding(host: host) else {
            throw Failure.unknownHost
        }
        let access: TenantAccess
        if let token = Self.bearer(request) {
            guard let info = try await directory.token(token), info.tenantID == binding.tenantID else { throw Failure.unauthorized }
            access = TenantAccess(tenantID: binding.tenantID, host: host, credential: .token(info.id))
        } else if allowLink, request.uri.queryParameters["sig"] != nil {
            let query = request.uri.queryParameters
            switch links.check(pairing: query["pairing"].map(String.init), expires: query["expires"].map(String.init),
                               signature: query["sig"].map(String.init), now: now()) {
            case .invalid: throw Failure.linkInvalid
            case .expired: throw Failure.linkExpired
            case .valid(let pairingID):
                // Bound to its pairing, and so to that pairing's tenant: another host's link is forged here.
                guard let pairing = try await devices.pairing(pairingID), pairing.tenantID == binding.tenantID else {
                    throw Failure.linkInvalid
                }
                access = TenantAccess(tenantID: binding.tenantID, host: host, credential: .link(pairingID: pairingID))
            }
        } else {
            throw Failure.unauthorized
        }
        if binding.disabled { throw Failure.disabled }
        return access
    }

    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    static func problem(_ failure: Failure) -> APIError {
        switch failure {
        case .unknownHost:
            APIError(.notFound, .unknownHost, "No tenant is served at this host")
        case .unauthorized:
            .unauthorized
        case .linkExpired:
            APIError(.unauthorized, .linkExpired, "This pairing link has expired", headers: [.wwwAuthenticate: #"Bearer realm="pairgate""#])
        case .linkInvalid:
            APIError(.unauthorized, .linkInvalid, "This pairing link is not valid", headers: [.wwwAuthenticate: #"Bearer realm="pairgate""#])
        case .disabled:
            APIError(.forbidden, .tenantDisabled, "This tenant is disabled")
        case .overloaded:
            APIError(.serviceUnavailable, .overloaded, "Too many requests are being authenticated", headers: [.retryAfter: "1"])
        }
    }
}

/// Admits tenant routes through the gate and puts the tenant into the context.
struct TenantMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let gate: TenantGate
    let allowLink: Bool

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        var context = context
        do {
            context.tenant = try await gate.admit(request, peer: context.peer, allowLink: allowLink)
        } catch let failure as TenantGate.Failure {
            throw TenantGate.problem(failure)
        }
        return try await next(request, context)
    }
}

/// Admin routes: the `admin.token` bearer, compared in constant time; without a configured token
/// the admin API is closed.
struct AdminMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let tokenDigest: [UInt8]?

    init(token: String?) {
        tokenDigest = token.map { Array(SHA256.hash(data: Data($0.utf8))) }
    }

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        guard let tokenDigest else {
            throw APIError(.unauthorized, .adminDisabled, "The admin API is disabled",
                           detail: "set admin.token to enable it", headers: [.wwwAuthenticate: #"Bearer realm="pairgate-admin""#])
        }
        guard let presented = TenantGate.bearer(request),
              constantTimeEqual(Array(SHA256.hash(data: Data(presented.utf8))), tokenDigest)
        else {
            throw APIError(.unauthorized, .unauthorized, "Missing or invalid admin credentials",
                           detail: "send Authorization: Bearer <admin token>", headers: [.wwwAuthenticate: #"Bearer realm="pairgate-admin""#])
        }
        return try await next(request, context)
    }
}
