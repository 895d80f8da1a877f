import Foundation
import PostgresClient

/// The WhatsApp Web version stored for the whole fleet, and who stored it when.
public struct StoredClientVersion: Sendable, Hashable {
    /// Who stored a version: the configuration at startup, a check of the version source, or an operator.
    public enum Source: String, Sendable, Hashable {
        case configuration, check, admin
    }

    public var version: String
    public var source: Source
    public var updatedAt: Date
    /// The instance that stored it.
    public var updatedBy: String
}

/// Fleet-wide settings in PostgreSQL (the `settings` table).
public struct SettingsStore: Sendable {
    let pool: PostgresPool
    static let clientVersion = "client_version"

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    public func clientVersion() async throws -> StoredClientVersion? {
        try await pool.query(
            "SELECT value, source, updated_at, updated_by FROM settings WHERE name = $1", [Self.clientVersion]
        ).first.map { row in
            StoredClientVersion(
                version: try row.decode(0),
                source: StoredClientVersion.Source(rawValue: try row.decode(1)) ?? .admin,
                updatedAt: try row.decode(2),
                updatedBy: try row.decode(3)
            )
        }
    }

    /// Stores `version` when nothing is stored or it is newer than the stored one (versions
    /// compare number by number: 2.3000.1050000000 > 2.3000.1045649367); returns what is stored
    /// afterwards. Instances offering at once cannot move the version backwards.
    public func offerClientVersion(_ version: String, source: StoredClientVersion.Source, by instance: String) async throws -> StoredClientVersion {
        try await pool.query("""
            INSERT INTO settings (name, value, source, updated_by) VALUES ($1, $2, $3, $4)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value, source = excluded.source,
                updated_by = excluded.updated_by, updated_at = now()
            WHERE string_to_array(settings.value, '.')::int8[] < string_to_array(excluded.value, '.')::int8[]
            """, [Self.clientVersion, version, source.rawValue, instance])
        return try await stored()
    }

    /// Stores `version` whatever is stored (an operator's choice, also an older version).
    public func setClientVersion(_ version: String, source: StoredClientVersion.Source, by instance: String) async throws -> StoredClientVersion {
        try await pool.query("""
            INSERT INTO settings (name, value, source, updated_by) VALUES ($1, $2, $3, $4)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value, source = excluded.source,
                updated_by = excluded.updated_by, updated_at = now()
            """, [Self.clientVersion, version, source.rawValue, instance])
        return try await stored()
    }

    private func stored() async throws -> StoredClientVersion {
        guard let stored = try await clientVersion() else {
            throw PostgresError(.decoding, detail: "the client version was stored and is gone")
        }
        return stored
    }
}
