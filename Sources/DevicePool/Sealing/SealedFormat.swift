import Foundation

/// The layouts of a sealed row and what each binds it to (its AES-256-GCM associated data).
/// - v1: nonce ‖ ciphertext ‖ tag; associated data "pairgate-credential-v1" ‖ owner id ‖ kind.
///   Still opened, never written: `pairgate keys rotate` upgrades such rows.
/// - v2: 0x02 ‖ nonce ‖ ciphertext ‖ tag; associated data "pairgate/v2" ‖ tenant id ‖ owner id ‖ kind.
/// The owner is the device (its credentials, proxy and Signal rows) or the webhook endpoint.
enum SealedFormat: UInt8, Sendable, Hashable {
    case v1 = 1
    case v2 = 2

    /// What a row is sealed for.
    struct Binding: Sendable, Hashable {
        var tenantID: UUID
        var ownerID: UUID
        var kind: String
    }

    /// The formats to try for `bytes`, most likely first: v2 when it carries the v2 byte, and v1,
    /// whose first byte is random.
    static func candidates(for bytes: [UInt8]) -> [SealedFormat] {
        bytes.first == SealedFormat.v2.rawValue ? [.v2, .v1] : [.v1]
    }

    /// The stored bytes of AES-GCM's combined box.
    func frame(_ combined: [UInt8]) -> [UInt8] {
        switch self {
        case .v1: combined
        case .v2: [rawValue] + combined
        }
    }

    /// AES-GCM's combined box out of the stored bytes, or nil when they are not in this format.
    func unframe(_ bytes: [UInt8]) -> [UInt8]? {
        switch self {
        case .v1: bytes
        case .v2: bytes.first == rawValue ? Array(bytes.dropFirst()) : nil
        }
    }

    func associatedData(_ binding: Binding) -> [UInt8] {
        switch self {
        case .v1: Array("pairgate-credential-v1".utf8) + Self.bytes(binding.ownerID) + Array(binding.kind.utf8)
        case .v2: Array("pairgate/v2".utf8) + Self.bytes(binding.tenantID) + Self.bytes(binding.ownerID) + Array(binding.kind.utf8)
        }
    }

    private static func bytes(_ id: UUID) -> [UInt8] {
        let u = id.uuid
        return [u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
    }
}
