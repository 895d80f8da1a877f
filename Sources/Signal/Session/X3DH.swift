import WAWire

/// The first state of a session on either side (libsignal's RatchetingSession).
enum X3DH {
    /// Alice, from Bob's bundle: DH(IKa, SPKb) ‖ DH(EKa, IKb) ‖ DH(EKa, SPKb) [‖ DH(EKa, OPKb)].
    /// The secret's chain receives on Bob's signed prekey; a first ratchet key of ours (drawn after
    /// the base key, as libsignal does) and one root step give our sending chain.
    static func initiatorState(
        local: LocalIdentity,
        baseKey: Curve25519KeyPair,
        bundle: PreKeyBundle,
        using generator: inout some RandomNumberGenerator
    ) throws(SignalError) -> SessionState {
        var agreements = [
            try SignalKeys.agreement(local.keyPair, bundle.signedPreKey),
            try SignalKeys.agreement(baseKey, bundle.identityKey),
            try SignalKeys.agreement(baseKey, bundle.signedPreKey),
        ]
        if let oneTimePreKey = bundle.oneTimePreKey {
            agreements.append(try SignalKeys.agreement(baseKey, oneTimePreKey.publicKey))
        }
        let secret = SignalKDF.x3dh(agreements)
        let ratchetKey = Curve25519KeyPair.generate(using: &generator)
        let sending = try SignalKDF.rootStep(rootKey: secret.rootKey, ours: ratchetKey, theirs: bundle.signedPreKey)
        return SessionState(
            localIdentityKey: local.keyPair.publicKey,
            remoteIdentityKey: bundle.identityKey,
            localRegistrationID: local.registrationID,
            remoteRegistrationID: bundle.registrationID,
            baseKey: baseKey.publicKey,
            rootKey: sending.rootKey,
            previousCounter: 0,
            sendingChain: SessionState.SendingChain(
                ratchetPrivateKey: ratchetKey.privateKey,
                ratchetPublicKey: ratchetKey.publicKey,
                chainKey: ChainKey(key: sending.chainKey, index: 0)
            ),
            receivingChains: [
                SessionState.ReceivingChain(
                    ratchetPublicKey: bundle.signedPreKey,
                    chainKey: ChainKey(key: secret.chainKey, index: 0),
                    storedKeys: []
                ),
            ],
            pendingPreKey: SessionState.PendingPreKey(oneTimePreKeyID: bundle.oneTimePreKey?.id, signedPreKeyID: bundle.signedPreKeyID)
        )
    }

    /// Bob, from Alice's `pkmsg`: the same agreements from his side. His signed prekey is his first
    /// ratchet key and the secret's chain his first sending chain.
    static func responderState(
        local: LocalIdentity,
        signedPreKey: Curve25519KeyPair,
        oneTimePreKey: Curve25519KeyPair?,
        message: PreKeyWhisperMessage
    ) throws(SignalError) -> SessionState {
        var agreements = [
            try SignalKeys.agreement(signedPreKey, message.identityKey),
            try SignalKeys.agreement(local.keyPair, message.baseKey),
            try SignalKeys.agreement(signedPreKey, message.baseKey),
        ]
        if let oneTimePreKey {
            agreements.append(try SignalKeys.agreement(oneTimePreKey, message.baseKey))
        }
        let secret = SignalKDF.x3dh(agreements)
        return SessionState(
            localIdentityKey: local.keyPair.publicKey,
            remoteIdentityKey: message.identityKey,
            localRegistrationID: local.registrationID,
            remoteRegistrationID: message.registrationID,
            baseKey: message.baseKey,
            rootKey: secret.rootKey,
            previousCounter: 0,
            sendingChain: SessionState.SendingChain(
                ratchetPrivateKey: signedPreKey.privateKey,
                ratchetPublicKey: signedPreKey.publicKey,
                chainKey: ChainKey(key: secret.chainKey, index: 0)
            ),
            receivingChains: [],
            pendingPreKey: nil
        )
    }
}
