import WAWire

// The Double Ratchet on one state (libsignal's SessionCipher on a SessionState). The state is a
// copy: callers keep it only when the whole step succeeded, so a failed MAC leaves nothing behind.
extension SessionState {
    /// Decrypts `message`, advancing the chains (and the root, when its ratchet key is new).
    mutating func decrypt(_ message: WhisperMessage, using generator: inout some RandomNumberGenerator) throws(SignalError) -> [UInt8] {
        let chain = try receivingChainIndex(for: message.ratchetKey, using: &generator)
        let keys = try messageKeys(onChain: chain, counter: message.counter)
        guard message.hasValidMAC(macKey: keys.macKey, senderIdentityKey: remoteIdentityKey, receiverIdentityKey: localIdentityKey) else {
            throw SignalError(.invalidMAC)
        }
        let plaintext = try MessageBodyCipher.decrypt(message.ciphertext, key: keys.cipherKey, iv: keys.iv)
        // The peer answered, so it has our session: plain `msg` from now on.
        pendingPreKey = nil
        return plaintext
    }

    /// Encrypts on the sending chain: a `pkmsg` while unacknowledged, else a `msg`.
    mutating func encrypt(_ plaintext: [UInt8]) throws(SignalError) -> (type: CiphertextType, serialized: [UInt8]) {
        let chainKey = sendingChain.chainKey
        guard chainKey.index < UInt32.max else {
            throw SignalError(.counterExhausted)
        }
        let keys = MessageKeys(seed: chainKey.messageKeySeed)
        let ciphertext = try MessageBodyCipher.encrypt(plaintext, key: keys.cipherKey, iv: keys.iv)
        let message = WhisperMessage(
            ratchetKey: sendingChain.ratchetPublicKey,
            counter: chainKey.index,
            previousCounter: previousCounter,
            ciphertext: ciphertext,
            macKey: keys.macKey,
            senderIdentityKey: localIdentityKey,
            receiverIdentityKey: remoteIdentityKey
        )
        sendingChain.chainKey = chainKey.next
        guard let pendingPreKey else {
            return (.msg, message.serialized)
        }
        let preKeyMessage = PreKeyWhisperMessage(
            registrationID: localRegistrationID,
            oneTimePreKeyID: pendingPreKey.oneTimePreKeyID,
            signedPreKeyID: pendingPreKey.signedPreKeyID,
            baseKey: baseKey,
            identityKey: localIdentityKey,
            message: message
        )
        return (.pkmsg, preKeyMessage.serialized)
    }

    /// The receiving chain of `ratchetKey`; a new key is a DH ratchet step (libsignal's
    /// `getOrCreateChainKey`): a receiving chain from our current ratchet key, then a fresh
    /// ratchet key of ours and its sending chain.
    private mutating func receivingChainIndex(
        for ratchetKey: [UInt8],
        using generator: inout some RandomNumberGenerator
    ) throws(SignalError) -> Int {
        if let index = receivingChains.firstIndex(where: { $0.ratchetPublicKey == ratchetKey }) {
            return index
        }
        let ours = try SignalKeys.keyPair(privateKey: sendingChain.ratchetPrivateKey)
        let receiving = try SignalKDF.rootStep(rootKey: rootKey, ours: ours, theirs: ratchetKey)
        let next = Curve25519KeyPair.generate(using: &generator)
        let sending = try SignalKDF.rootStep(rootKey: receiving.rootKey, ours: next, theirs: ratchetKey)
        rootKey = sending.rootKey
        receivingChains.append(ReceivingChain(ratchetPublicKey: ratchetKey, chainKey: ChainKey(key: receiving.chainKey, index: 0), storedKeys: []))
        if receivingChains.count > SignalLimits.maximumReceivingChains {
            receivingChains.removeFirst()
        }
        previousCounter = max(sendingChain.chainKey.index, 1) - 1
        sendingChain = SendingChain(
            ratchetPrivateKey: next.privateKey,
            ratchetPublicKey: next.publicKey,
            chainKey: ChainKey(key: sending.chainKey, index: 0)
        )
        return receivingChains.count - 1
    }

    /// The keys for `counter` on a receiving chain: a stored key for a late message, or the chain
    /// advanced to `counter`, storing the keys it passes (libsignal's `getOrCreateMessageKeys`).
    private mutating func messageKeys(onChain index: Int, counter: UInt32) throws(SignalError) -> MessageKeys {
        var chain = receivingChains[index]
        if counter < chain.chainKey.index {
            guard let stored = chain.storedKeys.firstIndex(where: { $0.index == counter }) else {
                throw SignalError(.duplicate)
            }
            let seed = chain.storedKeys.remove(at: stored).seed
            receivingChains[index] = chain
            return MessageKeys(seed: seed)
        }
        guard counter - chain.chainKey.index <= SignalLimits.maximumForwardJump else {
            throw SignalError(.tooFarAhead)
        }
        var chainKey = chain.chainKey
        while chainKey.index < counter {
            chain.storedKeys.append(StoredMessageKey(index: chainKey.index, seed: chainKey.messageKeySeed))
            chainKey = chainKey.next
        }
        let keys = MessageKeys(seed: chainKey.messageKeySeed)
        // The message's counter is below UInt32.max (WhisperMessage refuses it), so this advances.
        chain.chainKey = chainKey.next
        receivingChains[index] = chain
        return keys
    }
}
