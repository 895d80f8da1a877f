extension StoredMessageKey {
    /// A u16 count and the keys, each a u32 index and the 32-byte seed.
    static func write(_ keys: [StoredMessageKey], to writer: inout RecordWriter) {
        writer.uint16(UInt16(keys.count))
        for key in keys {
            writer.uint32(key.index)
            writer.key(key.seed)
        }
    }

    /// A u16 count and the keys, strictly ascending and below `chainIndex`; the count must fit the
    /// remaining `budget` before any is read.
    static func read(from reader: inout RecordReader, below chainIndex: UInt32, budget: inout Int) throws(SignalError) -> [StoredMessageKey] {
        let count = Int(try reader.uint16())
        guard count <= budget else {
            throw SignalError(.corruptRecord)
        }
        budget -= count
        var keys: [StoredMessageKey] = []
        keys.reserveCapacity(count)
        for _ in 0..<count {
            let key = StoredMessageKey(index: try reader.uint32(), seed: try reader.key())
            guard key.index < chainIndex, keys.last.map({ $0.index < key.index }) ?? true else {
                throw SignalError(.corruptRecord)
            }
            keys.append(key)
        }
        return keys
    }
}
