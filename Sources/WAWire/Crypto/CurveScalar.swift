// Integers modulo the Ed25519 group order L = 2^252 + 27742317777372353535851937790883648493.
//
// Constant time: reduction is a plain shift-and-subtract over all 512 input bits, each step
// subtracting L and keeping either result through a mask; products are full schoolbook. No branch
// or index depends on a value. It is slower than Barrett reduction, and a signature needs only
// three reductions, so plain wins.

/// An integer modulo L, the order of the Ed25519 base point, in four little-endian 64-bit words.
struct CurveScalar: Sendable {
    private var w0: UInt64
    private var w1: UInt64
    private var w2: UInt64
    private var w3: UInt64

    private init(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    private static var order: CurveScalar {
        CurveScalar(0x5812_631A_5CF5_D3ED, 0x14DE_F9DE_A2F7_9CD6, 0, 0x1000_0000_0000_0000)
    }

    /// Reduces a little-endian integer of at most 64 bytes (a SHA-512 digest, or 32 key bytes).
    init(reducing bytes: some Sequence<UInt8>) {
        var words = [UInt64](repeating: 0, count: 8)
        for (index, byte) in bytes.enumerated() {
            precondition(index < 64, "at most 512 bits")
            words[index / 8] |= UInt64(byte) << (8 * UInt64(index % 8))
        }
        self = Self.reduce(words)
    }

    /// The 32-byte little-endian encoding of the reduced value.
    var littleEndianBytes: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 32)
        for (index, word) in [w0, w1, w2, w3].enumerated() {
            for offset in 0..<8 {
                bytes[index * 8 + offset] = UInt8(truncatingIfNeeded: word >> (8 * offset))
            }
        }
        return bytes
    }

    /// −self mod L.
    func negated() -> CurveScalar {
        let order = Self.order
        var borrow: UInt64 = 0
        let n0 = Self.subtract(order.w0, w0, &borrow)
        let n1 = Self.subtract(order.w1, w1, &borrow)
        let n2 = Self.subtract(order.w2, w2, &borrow)
        let n3 = Self.subtract(order.w3, w3, &borrow)
        // L − 0 = L must become 0; every other result is already below L.
        return CurveScalar(n0, n1, n2, n3).subtractingOrderIfNotBelow()
    }

    /// (a·b + c) mod L.
    static func multiplyAdd(_ a: CurveScalar, _ b: CurveScalar, _ c: CurveScalar) -> CurveScalar {
        let x = [a.w0, a.w1, a.w2, a.w3]
        let y = [b.w0, b.w1, b.w2, b.w3]
        var product = [c.w0, c.w1, c.w2, c.w3, 0, 0, 0, 0]
        for i in 0..<4 {
            var carry: UInt64 = 0
            for j in 0..<4 {
                let column = UInt128(x[i]) &* UInt128(y[j]) &+ UInt128(product[i + j]) &+ UInt128(carry)
                product[i + j] = UInt64(truncatingIfNeeded: column)
                carry = UInt64(truncatingIfNeeded: column >> 64)
            }
            // Adding c up front can carry beyond the row; ripple it up through the free words.
            var k = i + 4
            while k < 8 {
                let sum = UInt128(product[k]) &+ UInt128(carry)
                product[k] = UInt64(truncatingIfNeeded: sum)
                carry = UInt64(truncatingIfNeeded: sum >> 64)
                k += 1
            }
        }
        return reduce(product)
    }

    /// `b` where `mask` is all ones, `a` where it is zero, without branching.
    static func select(_ a: CurveScalar, _ b: CurveScalar, mask: UInt64) -> CurveScalar {
        CurveScalar(
            a.w0 ^ (mask & (a.w0 ^ b.w0)),
            a.w1 ^ (mask & (a.w1 ^ b.w1)),
            a.w2 ^ (mask & (a.w2 ^ b.w2)),
            a.w3 ^ (mask & (a.w3 ^ b.w3))
        )
    }

    /// Reduces eight little-endian words (a 512-bit integer) modulo L.
    private static func reduce(_ words: [UInt64]) -> CurveScalar {
        var r = CurveScalar(0, 0, 0, 0)
        for bit in (0..<512).reversed() {
            // r < L < 2^253, so 2r + 1 still fits in 254 bits.
            let incoming = (words[bit / 64] >> UInt64(bit % 64)) & 1
            r = CurveScalar(
                r.w0 << 1 | incoming,
                r.w1 << 1 | r.w0 >> 63,
                r.w2 << 1 | r.w1 >> 63,
                r.w3 << 1 | r.w2 >> 63
            ).subtractingOrderIfNotBelow()
        }
        return r
    }

    /// self − L when self ≥ L, else self; valid for self < 2L.
    private func subtractingOrderIfNotBelow() -> CurveScalar {
        let order = Self.order
        var borrow: UInt64 = 0
        let difference = CurveScalar(
            Self.subtract(w0, order.w0, &borrow),
            Self.subtract(w1, order.w1, &borrow),
            Self.subtract(w2, order.w2, &borrow),
            Self.subtract(w3, order.w3, &borrow)
        )
        // A final borrow means self < L: keep self.
        return Self.select(difference, self, mask: 0 &- borrow)
    }

    /// a − b − borrow; `borrow` (0 or 1) is replaced by the outgoing borrow.
    private static func subtract(_ a: UInt64, _ b: UInt64, _ borrow: inout UInt64) -> UInt64 {
        let difference = UInt128(a) &- UInt128(b) &- UInt128(borrow)
        borrow = UInt64(truncatingIfNeeded: difference >> 127)
        return UInt64(truncatingIfNeeded: difference)
    }
}
