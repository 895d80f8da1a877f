/// One ratchet session with a remote device (libsignal's SessionStructure), current or archived.
public struct SessionState: Sendable, Equatable, CustomStringConvertible {
    /// A DH ratchet key of ours and the chain it sends on.
    struct SendingChain: Sendable, Equatable {
        var ratchetPrivateKey: [UInt8]
        var ratchetPublicKey: [UInt8]
        var chainKey: ChainKey
    }

    /// A ratchet key of theirs, the chain it receives on, and the keys skipped on it (ascending).
    struct ReceivingChain: Sendable, Equatable {
        var ratchetPublicKey: [UInt8]
        var chainKey: ChainKey
        var storedKeys: [StoredMessageKey]
    }

    /// What an initiator repeats in every `pkmsg` until the peer's first message decrypts.
    struct PendingPreKey: Sendable, Equatable {
        var oneTimePreKeyID: UInt32?
        var signedPreKeyID: UInt32
    }

    /// Our identity public key (32 bytes) when the session was set up.
    public internal(set) var localIdentityKey: [UInt8]
    /// The peer's identity public key (32 bytes) this session authenticates.
    public internal(set) var remoteIdentityKey: [UInt8]
    public internal(set) var localRegistrationID: UInt32
    public internal(set) var remoteRegistrationID: UInt32
    /// The initiator's X3DH base key (32 bytes): a session's identity within its record.
    public internal(set) var baseKey: [UInt8]
    var rootKey: [UInt8]
    /// The counter of the last message sent on our previous sending chain.
    var previousCounter: UInt32
    var sendingChain: SendingChain
    /// Oldest first, at most `SignalLimits.maximumReceivingChains`.
    var receivingChains: [ReceivingChain]
    var pendingPreKey: PendingPreKey?

    /// Whether our messages still go out as `pkmsg` (we initiated and nothing from the peer decrypted yet).
    public var hasUnacknowledgedPreKeyMessage: Bool {
        pendingPreKey != nil
    }

    var storedKeyCount: Int {
        receivingChains.reduce(0) { $0 + $1.storedKeys.count }
    }

    /// Drops up to `count` stored keys, oldest chain first, lowest index first; decrements `count`.
    mutating func dropStoredKeys(_ count: inout Int) {
        for index in receivingChains.indices where count > 0 {
            let dropped = min(count, receivingChains[index].storedKeys.count)
            receivingChains[index].storedKeys.removeFirst(dropped)
            count -= dropped
        }
    }

    public var description: String {
        "SessionState(receivingChains: \(receivingChains.count), storedKeys: \(storedKeyCount), "
            + "unacknowledgedPreKeyMessage: \(hasUnacknowledgedPreKeyMessage))"
    }
}
