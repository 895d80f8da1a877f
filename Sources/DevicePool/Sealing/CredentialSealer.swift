import Crypto
import Foundation

/// A master key for sealing credentials: an id (stored beside each sealed row) and 32 bytes.
public struct MasterKey: Sendable, CustomStringConvertible {
    public let id: String
    let key: SymmetricKey

    /// Parses `id:base64` as configured (`credentials.master_key`); the key must be 32 bytes.
    public init(parsing text: String) throws(SealingError) {
        guard let colon = text.firstIndex(of: ":") else { throw SealingError(.badMasterKey) }
        let id = String(text[..<colon])
        guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }),
              let bytes = Data(base64Encoded: String(text[text.index(after: colon)...])), bytes.count == 32
        else { throw SealingError(.badMasterKey) }
        self.init(id: id, bytes: Array(bytes))
    }

    public init(id: String, bytes: [UInt8]) {
        self.id = id
        self.key = SymmetricKey(data: bytes)
    }

    /// A fresh random key in the configuration's `id:base64` form.
    public static func generate(id: String) -> String {
        let key = SymmetricKey(size: .bits256)
        return id + ":" + key.withUnsafeBytes { Data($0).base64EncodedString() }
    }

    public var description: String { "MasterKey(\(id), redacted)" }
}

/// Credentials sealed at rest: which master key, and the sealed bytes (`SealedFormat`).
public struct SealedCredential: Sendable, Hashable {
    public var keyID: String
    public var bytes: [UInt8]

    public init(keyID: String, bytes: [UInt8]) {
        self.keyID = keyID
        self.bytes = bytes
    }
}

/// Why sealing or opening failed; never says more than that.
public struct SealingError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case badMasterKey = "bad_master_key"
        case unknownKey = "unknown_master_key"
        case tampered = "credential_tampered"
        case encoding = "credential_encoding"
    }
    public var code: Code
    public init(_ code: Code) { self.code = code }
    public var description: String {
        switch code {
        case .badMasterKey: "credentials master key must be id:base64 of 32 bytes"
        case .unknownKey: "credentials were sealed under a master key that is not configured"
        case .tampered: "sealed credentials failed authentication (wrong key, altered, or sealed for another tenant, device or kind)"
        case .encoding: "credentials could not be encoded"
        }
    }
}

/// The master keys that seal credentials at rest with AES-256-GCM. Rows are sealed and opened
/// through `tenant(_:)`, so every sealed row is bound to its tenant as well as to its owner and kind.
public struct CredentialSealer: Sendable {
    public let current: MasterKey
    private let keys: [String: MasterKey]

    /// `current` seals; `previous` keys still open rows sealed before a rotation.
    public init(current: MasterKey, previous: [MasterKey] = []) {
        self.current = current
        var keys = Dictionary(previous.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        keys[current.id] = current
        self.keys = keys
    }

    /// The sealer for one tenant's rows: what it seals opens only for that tenant.
    public func tenant(_ tenantID: UUID) -> TenantSealer {
        TenantSealer(tenantID: tenantID, keys: self)
    }

    func seal(_ plaintext: [UInt8], binding: SealedFormat.Binding) throws(SealingError) -> SealedCredential {
        do {
            let box = try AES.GCM.seal(plaintext, using: current.key, authenticating: SealedFormat.v2.associatedData(binding))
            guard let combined = box.combined else { throw SealingError(.encoding) }
            return SealedCredential(keyID: current.id, bytes: SealedFormat.v2.frame(Array(combined)))
        } catch {
            throw SealingError(.encoding)
        }
    }

    /// The plaintext and the format it was sealed in. A v1 row (no version byte: its first byte
    /// is its random nonce's) may begin with the v2 byte by chance, so a row that does not open as
    /// v2 is tried as v1; the associated data of each version differs, so no row opens as both.
    func open(_ sealed: SealedCredential, binding: SealedFormat.Binding) throws(SealingError) -> (plaintext: [UInt8], format: SealedFormat) {
        guard let key = keys[sealed.keyID] else { throw SealingError(.unknownKey) }
        for format in SealedFormat.candidates(for: sealed.bytes) {
            guard let combined = format.unframe(sealed.bytes), let box = try? AES.GCM.SealedBox(combined: combined),
                  let plaintext = try? AES.GCM.open(box, using: key.key, authenticating: format.associatedData(binding))
            else { continue }
            return (Array(plaintext), format)
        }
        throw SealingError(.tampered)
    }
}
