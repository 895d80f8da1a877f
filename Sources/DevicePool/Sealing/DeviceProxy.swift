import Foundation
import WAClient

/// A device's own proxy, set by its tenant: the URL with its credentials is sealed at rest like
/// the device's keys (its own credential kind, so a sealed row cannot pass for another), and
/// read again before every connection, so a change takes effect on the next connect. A device
/// without one goes through the gateway-wide `upstream.proxy`, if any.
public enum DeviceProxy {
    /// The `device_credentials.kind` of the sealed proxy URL. A logout wipes a device's keys
    /// but keeps this row: the proxy is the tenant's setting, not a credential of the link.
    public static let credentialKind = "proxy"

    /// Seals a proxy URL (already checked to parse as a `ProxyConfiguration`) for one device.
    public static func seal(_ url: String, deviceID: UUID, sealer: TenantSealer) throws(SealingError) -> SealedCredential {
        try sealer.seal(Array(url.utf8), deviceID: deviceID, kind: credentialKind)
    }

    /// The device's proxy, or nil when it has none. Throws when it has one that cannot be read
    /// (the database is unreachable, the master key is missing): the caller must then not
    /// connect at all rather than connect without the proxy.
    static func load(deviceID: UUID, store: any DeviceStore, sealer: TenantSealer) async throws -> ProxyConfiguration? {
        guard let sealed = try await store.loadCredentials(deviceID: deviceID, kind: credentialKind) else { return nil }
        let url = String(decoding: try sealer.open(sealed, deviceID: deviceID, kind: credentialKind), as: UTF8.self)
        guard let proxy = ProxyConfiguration(url: url) else { throw SealingError(.encoding) }
        return proxy
    }
}
