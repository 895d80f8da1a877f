// The stored form of a sender-key record (format 1), big-endian:
//
//   u8 format = 1 · u8 stateCount (≤ 5) · state × stateCount
//   state = u32 keyID · chainKey(32) · u32 iteration · signingPublic(32) · u8 own (0/1) · [signingPrivate(32)]
//           u16 storedCount · (u32 iteration, seed(32)) × storedCount
//
// Stored keys are strictly ascending and below the chain's iteration, at most 2,000 per record.

extension SenderKeyRecord {
    static let formatVersion: UInt8 = 1

    /// The record's bytes, for sealing into PostgreSQL or a file.
    public func serialized() -> [UInt8] {
        var writer = RecordWriter()
        writer.uint8(Self.formatVersion)
        writer.uint8(UInt8(states.count))
        for state in states {
            writer.uint32(state.keyID)
            writer.key(state.chainKey.key)
            writer.uint32(state.chainKey.index)
            writer.key(state.signingPublicKey)
            if let signingPrivateKey = state.signingPrivateKey {
                writer.uint8(1)
                writer.key(signingPrivateKey)
            } else {
                writer.uint8(0)
            }
            StoredMessageKey.write(state.storedKeys, to: &writer)
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
        let count = Int(try reader.uint8())
        guard count <= SignalLimits.maximumSenderKeyStates else {
            throw SignalError(.corruptRecord)
        }
        var budget = SignalLimits.maximumStoredSenderMessageKeys
        var states: [SenderKeyState] = []
        states.reserveCapacity(count)
        for _ in 0..<count {
            let keyID = try reader.uint32()
            let chainKey = ChainKey(key: try reader.key(), index: try reader.uint32())
            let signingPublicKey = try reader.key()
            let signingPrivateKey: [UInt8]?
            switch try reader.uint8() {
            case 0: signingPrivateKey = nil
            case 1: signingPrivateKey = try reader.key()
            default: throw SignalError(.corruptRecord)
            }
            let storedKeys = try StoredMessageKey.read(from: &reader, below: chainKey.index, budget: &budget)
            states.append(SenderKeyState(
                keyID: keyID,
                chainKey: chainKey,
                signingPublicKey: signingPublicKey,
                signingPrivateKey: signingPrivateKey,
                storedKeys: storedKeys
            ))
        }
        try reader.finish()
        self.init(states: states)
    }
}
