/// Random bytes drawn from an injectable generator, so tests can replay the protocol vectors.
enum PairingRandom {
    static func bytes(_ count: Int, using rng: inout some RandomNumberGenerator) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            withUnsafeBytes(of: rng.next() as UInt64) { bytes.append(contentsOf: $0) }
        }
        return Array(bytes.prefix(count))
    }
}
