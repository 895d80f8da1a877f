import Crypto
import Foundation
import PostgresClient

/// A tenant as operators see it.
public struct Tenant: Sendable, Hashable, Codable {
    public var id: UUID
    public var name: String
    public var hosts: [String]
    public var createdAt: Date
    public var disabledAt: Date?
    /// Tokens not revoked.
    public var activeTokens: Int
}

/// A newly created tenant and its first API token — the only time the token exists in clear.
public struct CreatedTenant: Sendable {
    public var tenant: Tenant
    public var token: TenantToken
}

/// A tenant API token: `pgt_` and 43 base64url characters (32 random bytes). Only its SHA-256
/// is stored. `description` is redacted so it never lands in a log by accident.
public struct TenantToken: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init(value: String) { self.value = value }

    /// A fresh random token.
    public static func generate() -> TenantToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return TenantToken(value: "pgt_" + Data(bytes).base64URLEncodedString())
    }

    /// What the database keeps.
    public var sha256: [UInt8] { Array(SHA256.hash(data: Data(value.utf8))) }

    public var description: String { "pgt_…(redacted)" }
}

/// Tenants, their hosts and their tokens in PostgreSQL.
public struct TenantStore: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Creates a tenant with its hosts and a first token, in one transaction.
    public func create(name: String, hosts: [String]) async throws -> CreatedTenant {
        let name = name.trimmingCharacters(in: " \t\n")
        // Counted as PostgreSQL counts (code points); NUL cannot be stored in text.
        guard (1...200).contains(name.unicodeScalars.count), !name.unicodeScalars.contains("\0") else {
            throw StoreError(.invalidName, "tenant name must be 1 to 200 characters, without NUL")
        }
        guard hosts.count <= 20 else { throw StoreError(.invalidHost, "a tenant has at most 20 hosts") }
        let hosts = try hosts.map(HostName.normalize)
        guard !hosts.isEmpty else { throw StoreError(.invalidHost, "a tenant needs at least one host") }
        let token = TenantToken.generate()
        do {
            let tenant = try await pool.withTransaction { connection -> Tenant in
                let row = try connection.query(
                    "INSERT INTO tenants (name) VALUES ($1) RETURNING id, created_at", [name]
                )[0]
                let id: UUID = try row.decode(0)
                for host in hosts {
                    try connection.query("INSERT INTO tenant_hosts (host, tenant_id) VALUES ($1, $2)", [host, id])
                }
                try connection.query(
                    "INSERT INTO tenant_tokens (tenant_id, sha256, label) VALUES ($1, $2, 'initial')",
                    [id, token.sha256]
                )
                return Tenant(id: id, name: name, hosts: hosts, createdAt: try row.decode(1), disabledAt: nil, activeTokens: 1)
            }
            return CreatedTenant(tenant: tenant, token: token)
        } catch let error as PostgresError where error.code == .uniqueViolation && error.constraint == "tenant_hosts_pkey" {
            throw StoreError(.hostTaken, "one of the hosts \(hosts.joined(separator: ", ")) already belongs to a tenant")
        }
    }
}

extension Data {
    func base64URLEncodedString() -> String {
        base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
