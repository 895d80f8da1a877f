import Testing

@testable import Signal

/// The largest records the bounds allow still decode, round-trip, and stay under 100 KiB.
@Suite struct RecordBoundsTests {
    static func key(_ seed: Int) -> [UInt8] {
        (0..<32).map { UInt8(truncatingIfNeeded: seed &* 31 &+ $0) }
    }

    static func state(_ seed: Int, storedKeysPerChain: Int) -> SessionState {
        SessionState(
            localIdentityKey: key(seed), remoteIdentityKey: key(seed + 1),
            localRegistrationID: .max, remoteRegistrationID: .max,
            baseKey: key(seed + 2), rootKey: key(seed + 3), previousCounter: .max,
            sendingChain: .init(ratchetPrivateKey: key(seed + 4), ratchetPublicKey: key(seed + 5), chainKey: ChainKey(key: key(seed + 6), index: .max)),
            receivingChains: (0..<SignalLimits.maximumReceivingChains).map { chain in
                .init(
                    ratchetPublicKey: key(seed + 10 + chain),
                    chainKey: ChainKey(key: key(seed + 20 + chain), index: .max),
                    storedKeys: (0..<storedKeysPerChain).map { StoredMessageKey(index: UInt32($0), seed: key($0)) }
                )
            },
            pendingPreKey: .init(oneTimePreKeyID: .max, signedPreKeyID: .max)
        )
    }

    @Test func theLargestSessionRecordStaysUnder100KiB() throws {
        let perChain = SignalLimits.maximumStoredMessageKeys / SignalLimits.maximumReceivingChains
        let record = SessionRecord(
            current: Self.state(0, storedKeysPerChain: perChain),
            previousStates: (1...SignalLimits.maximumPreviousStates).map { Self.state($0 * 100, storedKeysPerChain: 0) }
        )
        let bytes = record.serialized()
        #expect(bytes.count < 100 * 1024)
        #expect(try SessionRecord(serialized: bytes) == record)
        // One stored key more than the bound is refused.
        var over = record
        over.previousStates[0] = Self.state(1, storedKeysPerChain: 1)
        SignalTestKit.expectError(.corruptRecord) { () throws(SignalError) in try SessionRecord(serialized: over.serialized()) }
    }

    @Test func theLargestSenderKeyRecordStaysUnder100KiB() throws {
        let perState = SignalLimits.maximumStoredSenderMessageKeys / SignalLimits.maximumSenderKeyStates
        let record = SenderKeyRecord(states: (0..<SignalLimits.maximumSenderKeyStates).map { state in
            SenderKeyState(
                keyID: UInt32(state), chainKey: ChainKey(key: Self.key(state), index: .max),
                signingPublicKey: Self.key(state + 1), signingPrivateKey: Self.key(state + 2),
                storedKeys: (0..<perState).map { StoredMessageKey(index: UInt32($0), seed: Self.key($0)) }
            )
        })
        let bytes = record.serialized()
        #expect(bytes.count < 100 * 1024)
        #expect(try SenderKeyRecord(serialized: bytes) == record)
    }
}
