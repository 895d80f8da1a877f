import Crypto
import Foundation
import PostgresClient

/// What a Host header selects: the tenant and whether it may still use the API.
public struct HostBinding: Sendable, Hashable {
    public var tenantID: UUID
    public var disabled: Bool

    public init(tenantID: UUID, disabled: Bool) {
        self.tenantID = tenantID
        self.disabled = disabled
    }
}

/// A tenant API token as stored: never the token itself.
public struct TokenInfo: Sendable, Hashable, Codable {
    public var id: UUID
    public var tenantID: UUID
    public var label: String?
    public var createdAt: Date
    public var revokedAt: Date?
}

/// A newly issued token — the only time it exists in clear.
public struct IssuedToken: Sendable {
    public var info: TokenInfo
    public var token: TenantToken
}

extension TenantStore {
    /// The tenant a normalised host belongs to, disabled or not.
    public func binding(host: String) async throws -> HostBinding? {
        try await pool.query("""
            SELECT t.id, t.disabled_at IS NOT NULL FROM tenant_hosts h JOIN tenants t ON t.id = h.tenant_id WHERE h.host = $1
            """, [host]).first.map { HostBinding(tenantID: try $0.decode(0), disabled: try $0.decode(1)) }
    }

    /// The live (not revoked) token with this SHA-256, compared in constant time once found.
    public func activeToken(sha256 digest: [UInt8]) async throws -> TokenInfo? {
        guard digest.count == SHA256.byteCount else { return nil }
        let rows = try await pool.query("""
            SELECT id, tenant_id, label, created_at, revoked_at, sha256 FROM tenant_tokens
            WHERE sha256 = $1 AND revoked_at IS NULL
            """, [digest])
        guard let row = rows.first else { return nil }
        let stored: [UInt8] = try row.decode("sha256")
        // The index lookup already matched; the comparison keeps the check itself free of early exits.
        guard constantTimeEqual(stored, digest) else { return nil }
        return try Self.token(from: row)
    }

    public func tenant(id: UUID) async throws -> Tenant? {
        try await list(where: "t.id = $1", [id]).first
    }

    /// Every tenant with its hosts, oldest first.
    public func list() async throws -> [Tenant] {
        try await list(where: "true", [])
    }

    private func list(where condition: String, _ parameters: [any PostgresEncodable]) async throws -> [Tenant] {
        let rows = try await pool.query("""
            SELECT t.id, t.name, t.created_at, t.disabled_at,
                   coalesce((SELECT array_to_string(array_agg(h.host ORDER BY h.host), ' ')
                             FROM tenant_hosts h WHERE h.tenant_id = t.id), '') AS hosts,
                   (SELECT count(*) FROM tenant_tokens k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL) AS tokens
            FROM tenants t
            WHERE \(condition)
            ORDER BY t.created_at, t.id
            """, parameters)
        return try rows.map { row in
            Tenant(
                id: try row.decode("id"),
                name: try row.decode("name"),
                hosts: try row.decode("hosts", as: String.self).split(separator: " ").map(String.init),
                createdAt: try row.decode("created_at"),
                disabledAt: try row.decode("disabled_at"),
                activeTokens: try row.decode("tokens")
            )
        }
    }

    /// Disables (or re-enables) a tenant; idempotent. Nil when there is no such tenant.
    public func setDisabled(_ disabled: Bool, tenantID: UUID) async throws -> Tenant? {
        let rows = try await pool.query(
            disabled
                ? "UPDATE tenants SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1 RETURNING id"
                : "UPDATE tenants SET disabled_at = NULL WHERE id = $1 RETURNING id",
            [tenantID]
        )
        guard !rows.isEmpty else { return nil }
        return try await tenant(id: tenantID)
    }

    /// Adds a host to a tenant; throws `hostTaken` when any tenant already has it.
    public func addHost(_ raw: String, tenantID: UUID) async throws -> Tenant? {
        let host = try HostName.normalize(raw)
        do {
            let rows = try await pool.query("""
                INSERT INTO tenant_hosts (host, tenant_id) SELECT $1, id FROM tenants WHERE id = $2 RETURNING host
                """, [host, tenantID])
            guard !rows.isEmpty else { return nil }
        } catch let error as PostgresError where error.code == .uniqueViolation {
            throw StoreError(.hostTaken, "the host \(host) already belongs to a tenant")
        }
        return try await tenant(id: tenantID)
    }

    /// Removes a host from a tenant; returns whether the tenant had it.
    public func removeHost(_ raw: String, tenantID: UUID) async throws -> Bool {
        guard let host = try? HostName.normalize(raw) else { return false }
        return try await !pool.query(
            "DELETE FROM tenant_hosts WHERE host = $1 AND tenant_id = $2 RETURNING host", [host, tenantID]
        ).isEmpty
    }

    /// Issues a new token for a tenant; nil when there is no such tenant.
    public func issueToken(tenantID: UUID, label: String?) async throws -> IssuedToken? {
        let token = TenantToken.generate()
        let rows = try await pool.query("""
            INSERT INTO tenant_tokens (tenant_id, sha256, label) SELECT id, $2, $3 FROM tenants WHERE id = $1
            RETURNING id, tenant_id, label, created_at, revoked_at
            """, [tenantID, token.sha256, label])
        return try rows.first.map { IssuedToken(info: try Self.token(from: $0), token: token) }
    }

    /// A tenant's tokens, newest first (hashes are never returned).
    public func tokens(tenantID: UUID) async throws -> [TokenInfo] {
        try await pool.query("""
            SELECT id, tenant_id, label, created_at, revoked_at FROM tenant_tokens
            WHERE tenant_id = $1 ORDER BY created_at DESC, id
            """, [tenantID]).map(Self.token(from:))
    }

    /// Revokes a token; idempotent. Nil when the tenant has no such token.
    public func revokeToken(_ tokenID: UUID, tenantID: UUID) async throws -> TokenInfo? {
        try await pool.query("""
            UPDATE tenant_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND tenant_id = $2
            RETURNING id, tenant_id, label, created_at, revoked_at
            """, [tokenID, tenantID]).first.map(Self.token(from:))
    }

    static func token(from row: PostgresRow) throws -> TokenInfo {
        TokenInfo(
            id: try row.decode("id"), tenantID: try row.decode("tenant_id"), label: try row.decode("label"),
            createdAt: try row.decode("created_at"), revokedAt: try row.decode("revoked_at")
        )
    }
}

/// Compares two byte strings without an early exit on the first difference.
public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}
