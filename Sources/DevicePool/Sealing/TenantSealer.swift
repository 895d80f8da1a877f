import Foundation

/// Seals and opens one tenant's rows (`CredentialSealer.tenant(_:)`): a row opens only for the
/// tenant, owner (device or webhook endpoint) and kind it was sealed for.
public struct TenantSealer: Sendable {
    public let tenantID: UUID
    let keys: CredentialSealer

    /// Seals under the current key in the current format (v2).
    public func seal(_ plaintext: [UInt8], deviceID: UUID, kind: String) throws(SealingError) -> SealedCredential {
        try keys.seal(plaintext, binding: binding(deviceID, kind))
    }

    /// Opens a row sealed under any configured key, in any format still read (v1 rows, which
    /// predate the tenant binding, are bound to their owner and kind only).
    public func open(_ sealed: SealedCredential, deviceID: UUID, kind: String) throws(SealingError) -> [UInt8] {
        try keys.open(sealed, binding: binding(deviceID, kind)).plaintext
    }

    /// Seals a Codable value (JSON inside).
    public func seal(encoding value: some Encodable, deviceID: UUID, kind: String) throws(SealingError) -> SealedCredential {
        let data: Data
        do { data = try JSONEncoder().encode(value) } catch { throw SealingError(.encoding) }
        return try seal(Array(data), deviceID: deviceID, kind: kind)
    }

    public func open<T: Decodable>(decoding type: T.Type, from sealed: SealedCredential, deviceID: UUID, kind: String) throws(SealingError) -> T {
        let bytes = try open(sealed, deviceID: deviceID, kind: kind)
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch { throw SealingError(.encoding) }
    }

    /// The row sealed again under the current key in the current format, or nil when it already
    /// is (`pairgate keys rotate`). Throws when the row does not open for this tenant, owner and kind.
    public func reseal(_ sealed: SealedCredential, deviceID: UUID, kind: String) throws(SealingError) -> SealedCredential? {
        let opened = try keys.open(sealed, binding: binding(deviceID, kind))
        if sealed.keyID == keys.current.id, opened.format == .v2 { return nil }
        return try keys.seal(opened.plaintext, binding: binding(deviceID, kind))
    }

    private func binding(_ ownerID: UUID, _ kind: String) -> SealedFormat.Binding {
        SealedFormat.Binding(tenantID: tenantID, ownerID: ownerID, kind: kind)
    }
}
