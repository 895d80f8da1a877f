import Foundation
import Signal
import WAWire

/// A linked device's signed prekey as it registered or last uploaded it: what every bundle carries.
public struct SimSignedPreKey: Sendable, Hashable, Codable {
    /// 24-bit id.
    public var id: UInt32
    /// 32 bytes.
    public var publicKey: [UInt8]
    /// 64 bytes by the identity key over `05 ‖ publicKey` (checked before it is stored).
    public var signature: [UInt8]

    public init(id: UInt32, publicKey: [UInt8], signature: [UInt8]) {
        self.id = id
        self.publicKey = publicKey
        self.signature = signature
    }
}

/// The one-time prekeys a linked device uploaded and the server still holds, oldest first: each is
/// handed out once, to one session, then forgotten (messaging.md §6.1, §6.2).
///
/// Kept compact (ids and one flat buffer of 32-byte keys) because a real client uploads 812 and the
/// simulator holds thousands of devices; at most `maximumCount`, the oldest dropped beyond it.
public struct SimPreKeys: Sendable, Hashable, Codable {
    /// More than a first upload (812) plus refills; beyond it the oldest keys are dropped.
    public static let maximumCount = 2000

    private var ids: [UInt32] = []
    private var keys: [UInt8] = []

    public init() {}

    public var count: Int { ids.count }
    public var isEmpty: Bool { ids.isEmpty }

    /// The key ids held, oldest first.
    public var storedIDs: [UInt32] { ids }

    /// Adds uploaded keys (32-byte public keys); an id already held is replaced and moves to the end.
    public mutating func add(_ uploaded: [PreKeyBundle.OneTimePreKey]) {
        let incoming = Set(uploaded.map(\.id))
        if ids.contains(where: incoming.contains) {
            let kept = ids.indices.filter { !incoming.contains(ids[$0]) }
            keys = kept.flatMap { keys[$0 * 32..<($0 + 1) * 32] }
            ids = kept.map { ids[$0] }
        }
        for key in uploaded where key.publicKey.count == 32 {
            ids.append(key.id)
            keys += key.publicKey
        }
        if ids.count > Self.maximumCount {
            drop(ids.count - Self.maximumCount)
        }
    }

    /// The oldest key, removed: it is never handed out again.
    public mutating func takeOldest() -> PreKeyBundle.OneTimePreKey? {
        guard let id = ids.first else {
            return nil
        }
        let key = PreKeyBundle.OneTimePreKey(id: id, publicKey: Array(keys[0..<32]))
        drop(1)
        return key
    }

    /// Forgets the `count` oldest keys.
    public mutating func drop(_ count: Int) {
        let dropped = min(max(0, count), ids.count)
        ids.removeFirst(dropped)
        keys.removeFirst(dropped * 32)
    }

    private enum CodingKeys: String, CodingKey {
        case ids, keys
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        ids = try container.decode([UInt32].self, forKey: .ids)
        keys = [UInt8](try container.decode(Data.self, forKey: .keys))
        guard keys.count == ids.count * 32 else {
            throw DecodingError.dataCorruptedError(forKey: .keys, in: container, debugDescription: "32 bytes per prekey id")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ids, forKey: .ids)
        // Base64 (Data), not a JSON array of numbers: a device's 812 keys stay about 35 KB in the state file.
        try container.encode(Data(keys), forKey: .keys)
    }
}

extension KeyBundle {
    /// A bundle the server hands out, in the form the fetch answer lays out.
    init(_ bundle: PreKeyBundle) {
        self.init(
            registrationID: bundle.registrationID, identityKey: bundle.identityKey,
            signedPreKey: SignedPreKey(id: bundle.signedPreKeyID, publicKey: bundle.signedPreKey, signature: bundle.signedPreKeySignature),
            preKey: bundle.oneTimePreKey.map { PreKey(id: $0.id, publicKey: $0.publicKey) }
        )
    }
}
