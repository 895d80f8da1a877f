// The stored form of a session record (format 1), big-endian:
//
//   u8 format = 1 · u8 hasCurrent (0/1) · [state] · u8 previousCount (≤ 40) · state × previousCount
//   state = localIdentity(32) remoteIdentity(32) u32 localRegistrationID u32 remoteRegistrationID
//           baseKey(32) rootKey(32) u32 previousCounter
//           sendingPrivate(32) sendingPublic(32) sendingChainKey(32) u32 sendingIndex
//           u8 pending (0 none, 1 signed prekey only, 2 with one-time prekey) [u32 oneTimePreKeyID] [u32 signedPreKeyID]
//           u8 receivingCount (≤ 5) · chain × receivingCount
//   chain = ratchetPublic(32) chainKey(32) u32 index u16 storedCount · (u32 index, seed(32)) × storedCount
//
// Stored keys are strictly ascending and below their chain's index, at most 2,000 per record.

extension SessionRecord {
    static let formatVersion: UInt8 = 1

    /// The record's bytes, for sealing into PostgreSQL or a file.
    public func serialized() -> [UInt8] {
        var writer = RecordWriter()
        writer.uint8(Self.formatVersion)
        if let current {
            writer.uint8(1)
            current.write(to: &writer)
        } else {
            writer.uint8(0)
        }
        writer.uint8(UInt8(previousStates.count))
        for state in previousStates {
            state.write(to: &writer)
        }
        return writer.bytes
    }

    /// Decodes stored bytes; fails with `unsupported_version` for another format and `corrupt_record`
    /// for anything truncated, out of bounds or inconsistent.
    public init(serialized bytes: [UInt8]) throws(SignalError) {
        var reader = RecordReader(bytes)
        guard try reader.uint8() == Self.formatVersion else {
            throw SignalError(.unsupportedVersion)
        }
        var storedKeyBudget = SignalLimits.maximumStoredMessageKeys
        var current: SessionState?
        switch try reader.uint8() {
        case 0: current = nil
        case 1: current = try SessionState(from: &reader, storedKeyBudget: &storedKeyBudget)
        default: throw SignalError(.corruptRecord)
        }
        let previousCount = Int(try reader.uint8())
        guard previousCount <= SignalLimits.maximumPreviousStates else {
            throw SignalError(.corruptRecord)
        }
        var previousStates: [SessionState] = []
        previousStates.reserveCapacity(previousCount)
        for _ in 0..<previousCount {
            previousStates.append(try SessionState(from: &reader, storedKeyBudget: &storedKeyBudget))
        }
        try reader.finish()
        self.init(current: current, previousStates: previousStates)
    }
}

extension SessionState {
    fileprivate func write(to writer: inout RecordWriter) {
        writer.key(localIdentityKey)
        writer.key(remoteIdentityKey)
        writer.uint32(localRegistrationID)
        writer.uint32(remoteRegistrationID)
        writer.key(baseKey)
        writer.key(rootKey)
        writer.uint32(previousCounter)
        writer.key(sendingChain.ratchetPrivateKey)
        writer.key(sendingChain.ratchetPublicKey)
        writer.key(sendingChain.chainKey.key)
        writer.uint32(sendingChain.chainKey.index)
        switch pendingPreKey {
        case nil:
            writer.uint8(0)
        case let pending?:
            if let oneTimePreKeyID = pending.oneTimePreKeyID {
                writer.uint8(2)
                writer.uint32(oneTimePreKeyID)
            } else {
                writer.uint8(1)
            }
            writer.uint32(pending.signedPreKeyID)
        }
        writer.uint8(UInt8(receivingChains.count))
        for chain in receivingChains {
            writer.key(chain.ratchetPublicKey)
            writer.key(chain.chainKey.key)
            writer.uint32(chain.chainKey.index)
            StoredMessageKey.write(chain.storedKeys, to: &writer)
        }
    }

    fileprivate init(from reader: inout RecordReader, storedKeyBudget: inout Int) throws(SignalError) {
        localIdentityKey = try reader.key()
        remoteIdentityKey = try reader.key()
        localRegistrationID = try reader.uint32()
        remoteRegistrationID = try reader.uint32()
        baseKey = try reader.key()
        rootKey = try reader.key()
        previousCounter = try reader.uint32()
        let ratchetPrivateKey = try reader.key()
        let ratchetPublicKey = try reader.key()
        let sendingKey = try reader.key()
        sendingChain = SendingChain(
            ratchetPrivateKey: ratchetPrivateKey,
            ratchetPublicKey: ratchetPublicKey,
            chainKey: ChainKey(key: sendingKey, index: try reader.uint32())
        )
        switch try reader.uint8() {
        case 0:
            pendingPreKey = nil
        case 1:
            pendingPreKey = PendingPreKey(oneTimePreKeyID: nil, signedPreKeyID: try reader.uint32())
        case 2:
            let oneTimePreKeyID = try reader.uint32()
            pendingPreKey = PendingPreKey(oneTimePreKeyID: oneTimePreKeyID, signedPreKeyID: try reader.uint32())
        default:
            throw SignalError(.corruptRecord)
        }
        let chainCount = Int(try reader.uint8())
        guard chainCount <= SignalLimits.maximumReceivingChains else {
            throw SignalError(.corruptRecord)
        }
        receivingChains = []
        receivingChains.reserveCapacity(chainCount)
        for _ in 0..<chainCount {
            let ratchetPublicKey = try reader.key()
            let chainKey = ChainKey(key: try reader.key(), index: try reader.uint32())
            let storedKeys = try StoredMessageKey.read(from: &reader, below: chainKey.index, budget: &storedKeyBudget)
            receivingChains.append(ReceivingChain(ratchetPublicKey: ratchetPublicKey, chainKey: chainKey, storedKeys: storedKeys))
        }
    }
}
