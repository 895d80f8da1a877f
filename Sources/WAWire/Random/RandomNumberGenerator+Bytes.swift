extension RandomNumberGenerator {
    /// `count` random bytes, eight from each draw, least significant first: a seeded generator, or
    /// one replaying a protocol vector's recorded randomness, gives the same bytes on every platform.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            var word = next()
            for _ in 0..<min(8, count - bytes.count) {
                bytes.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return bytes
    }
}
