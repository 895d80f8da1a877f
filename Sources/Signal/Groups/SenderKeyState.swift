/// One sender key of a group sender (libsignal's SenderKeyStateStructure): its id, chain and signing key.
public struct SenderKeyState: Sendable, Equatable, CustomStringConvertible {
    public internal(set) var keyID: UInt32
    /// The chain at the next iteration to use (sending) or expect (receiving).
    var chainKey: ChainKey
    /// The sender's signing public key (32 bytes).
    public internal(set) var signingPublicKey: [UInt8]
    /// Only in our own sender key, the one we send with.
    var signingPrivateKey: [UInt8]?
    /// Keys of skipped iterations, ascending.
    var storedKeys: [StoredMessageKey]

    /// The iteration the chain is at.
    public var iteration: UInt32 {
        chainKey.index
    }

    public var description: String {
        "SenderKeyState(keyID: \(keyID), iteration: \(iteration), storedKeys: \(storedKeys.count), own: \(signingPrivateKey != nil))"
    }

    /// The seed for `iteration`: a stored one for a late message, or the chain advanced to it,
    /// storing the seeds it passes (libsignal's `GroupCipher.getSenderKey`).
    mutating func messageKeySeed(for iteration: UInt32) throws(SignalError) -> [UInt8] {
        if iteration < chainKey.index {
            guard let stored = storedKeys.firstIndex(where: { $0.index == iteration }) else {
                throw SignalError(.duplicate)
            }
            return storedKeys.remove(at: stored).seed
        }
        guard iteration - chainKey.index <= SignalLimits.maximumForwardJump else {
            throw SignalError(.tooFarAhead)
        }
        var chain = chainKey
        while chain.index < iteration {
            storedKeys.append(StoredMessageKey(index: chain.index, seed: chain.messageKeySeed))
            chain = chain.next
        }
        // SenderKeyMessage refuses iteration UInt32.max, so this advances.
        chainKey = chain.next
        return chain.messageKeySeed
    }
}
