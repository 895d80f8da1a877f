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

/// Credentials sealed at rest: which master key, and nonce ‖ ciphertext ‖ tag.
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
        case .tampered: "sealed credentials failed authentication (wrong key, wrong row, or altered)"
        case .encoding: "credentials could not be encoded"
        }
    }
}

/// AES-256-GCM sealing of device credentials. The device id and the credential kind are the
/// associated data, so a sealed row copied onto another device or kind does not open.
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

    public func seal(_ plaintext: [UInt8], deviceID: UUID, kind: String) throws(SealingError) -> SealedCredential {
        do {
            let box = try AES.GCM.seal(plaintext, using: current.key, authenticating: Self.associatedData(deviceID, kind))
            guard let combined = box.combined else { throw SealingError(.encoding) }
            return SealedCredential(keyID: current.id, bytes: Array(combined))
        } catch {
            throw SealingError(.encoding)
        }
    }

    public func open(_ sealed: SealedCredential, deviceID: UUID, kind: String) throws(SealingError) -> [UInt8] {
        guard let key = keys[sealed.keyID] else { throw SealingError(.unknownKey) }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.bytes)
            return Array(try AES.GCM.open(box, using: key.key, authenticating: Self.associatedData(deviceID, kind)))
        } catch {
            throw SealingError(.tampered)
        }
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

    static func associatedData(_ deviceID: UUID, _ kind: String) -> [UInt8] {
        let u = deviceID.uuid
        return Array("pairgate-credential-v1".utf8)
            + [u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
            + Array(kind.utf8)
    }
}
