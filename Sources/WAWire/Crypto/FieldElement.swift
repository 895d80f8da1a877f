// Arithmetic in GF(p), p = 2^255 − 19, for the Edwards25519 code of the signature scheme.
//
// Constant time: every operation here runs the same instructions whatever the values (no branches
// or table indexes on limb values; products use full-width UInt128 multiplies, which are constant
// time on x86-64 and arm64). Not constant time: nothing in this file — callers decide what is secret.
//
// Representation: five unsigned 51-bit limbs, value = Σ limb[i]·2^(51·i). Limbs may exceed 51 bits
// between reductions; the bounds each operation accepts and returns are written beside it.

/// An element of GF(2^255 − 19) in five 51-bit limbs.
struct FieldElement: Sendable {
    var l0: UInt64
    var l1: UInt64
    var l2: UInt64
    var l3: UInt64
    var l4: UInt64

    init(_ l0: UInt64, _ l1: UInt64, _ l2: UInt64, _ l3: UInt64, _ l4: UInt64) {
        self.l0 = l0
        self.l1 = l1
        self.l2 = l2
        self.l3 = l3
        self.l4 = l4
    }

    static var zero: FieldElement { FieldElement(0, 0, 0, 0, 0) }
    static var one: FieldElement { FieldElement(1, 0, 0, 0, 0) }

    private static var mask51: UInt64 { (1 << 51) - 1 }

    /// Reads 32 little-endian bytes; bit 255 is ignored and values ≥ p are accepted (they reduce),
    /// as in X25519 and libsignal's key conversion.
    init(littleEndianBytes bytes: [UInt8]) {
        precondition(bytes.count == 32, "a field element is 32 bytes")
        func word(_ index: Int) -> UInt64 {
            var value: UInt64 = 0
            for offset in (0..<8).reversed() {
                value = value << 8 | UInt64(bytes[index * 8 + offset])
            }
            return value
        }
        let w0 = word(0), w1 = word(1), w2 = word(2), w3 = word(3)
        let mask = Self.mask51
        self.init(
            w0 & mask,
            (w0 >> 51 | w1 << 13) & mask,
            (w1 >> 38 | w2 << 26) & mask,
            (w2 >> 25 | w3 << 39) & mask,
            (w3 >> 12) & mask
        )
    }

    /// The canonical (fully reduced) 32-byte little-endian encoding; bit 255 is 0.
    var littleEndianBytes: [UInt8] {
        let r = reduced()
        let words = [
            r.l0 | r.l1 << 51,
            r.l1 >> 13 | r.l2 << 38,
            r.l2 >> 26 | r.l3 << 25,
            r.l3 >> 39 | r.l4 << 12,
        ]
        var bytes = [UInt8](repeating: 0, count: 32)
        for (index, word) in words.enumerated() {
            for offset in 0..<8 {
                bytes[index * 8 + offset] = UInt8(truncatingIfNeeded: word >> (8 * offset))
            }
        }
        return bytes
    }

    /// The low bit of the canonical value, 0 or 1 (the "sign" of an Edwards x coordinate).
    var parity: UInt8 {
        UInt8(truncatingIfNeeded: reduced().l0 & 1)
    }

    /// Propagates carries once; accepts limbs < 2^63, returns limbs < 2^52.
    private func carried() -> FieldElement {
        let mask = Self.mask51
        var r = self
        r.l1 &+= r.l0 >> 51
        r.l0 &= mask
        r.l2 &+= r.l1 >> 51
        r.l1 &= mask
        r.l3 &+= r.l2 >> 51
        r.l2 &= mask
        r.l4 &+= r.l3 >> 51
        r.l3 &= mask
        r.l0 &+= (r.l4 >> 51) &* 19
        r.l4 &= mask
        return r
    }

    /// The unique representative in [0, p) with every limb < 2^51.
    private func reduced() -> FieldElement {
        // Two carry passes leave every limb < 2^51, so the value is < 2^255 < 2p. It is ≥ p exactly
        // when value + 19 overflows 2^255; q is that overflow bit, and adding 19·q then dropping
        // bit 255 subtracts p once when needed.
        var r = carried().carried()
        var q = (r.l0 &+ 19) >> 51
        q = (r.l1 &+ q) >> 51
        q = (r.l2 &+ q) >> 51
        q = (r.l3 &+ q) >> 51
        q = (r.l4 &+ q) >> 51
        r.l0 &+= 19 &* q
        let mask = Self.mask51
        r.l1 &+= r.l0 >> 51
        r.l0 &= mask
        r.l2 &+= r.l1 >> 51
        r.l1 &= mask
        r.l3 &+= r.l2 >> 51
        r.l2 &= mask
        r.l4 &+= r.l3 >> 51
        r.l3 &= mask
        r.l4 &= mask
        return r
    }

    /// Sum without carrying: limbs of the result are the sums of the input limbs.
    static func + (a: FieldElement, b: FieldElement) -> FieldElement {
        FieldElement(a.l0 &+ b.l0, a.l1 &+ b.l1, a.l2 &+ b.l2, a.l3 &+ b.l3, a.l4 &+ b.l4)
    }

    /// Difference; `b`'s limbs must be ≤ 2^53 − 76 (any product, sum of two products, or difference).
    static func - (a: FieldElement, b: FieldElement) -> FieldElement {
        // Adding 4p keeps every limb non-negative before the carry.
        FieldElement(
            (a.l0 &+ 0x1F_FFFF_FFFF_FFB4) &- b.l0,
            (a.l1 &+ 0x1F_FFFF_FFFF_FFFC) &- b.l1,
            (a.l2 &+ 0x1F_FFFF_FFFF_FFFC) &- b.l2,
            (a.l3 &+ 0x1F_FFFF_FFFF_FFFC) &- b.l3,
            (a.l4 &+ 0x1F_FFFF_FFFF_FFFC) &- b.l4
        ).carried()
    }

    static prefix func - (a: FieldElement) -> FieldElement {
        .zero - a
    }

    /// Product; inputs' limbs < 2^54, output limbs < 2^52.
    static func * (a: FieldElement, b: FieldElement) -> FieldElement {
        let b1 = b.l1 &* 19, b2 = b.l2 &* 19, b3 = b.l3 &* 19, b4 = b.l4 &* 19
        let r0 = mul(a.l0, b.l0) &+ mul(a.l1, b4) &+ mul(a.l2, b3) &+ mul(a.l3, b2) &+ mul(a.l4, b1)
        let r1 = mul(a.l0, b.l1) &+ mul(a.l1, b.l0) &+ mul(a.l2, b4) &+ mul(a.l3, b3) &+ mul(a.l4, b2)
        let r2 = mul(a.l0, b.l2) &+ mul(a.l1, b.l1) &+ mul(a.l2, b.l0) &+ mul(a.l3, b4) &+ mul(a.l4, b3)
        let r3 = mul(a.l0, b.l3) &+ mul(a.l1, b.l2) &+ mul(a.l2, b.l1) &+ mul(a.l3, b.l0) &+ mul(a.l4, b4)
        let r4 = mul(a.l0, b.l4) &+ mul(a.l1, b.l3) &+ mul(a.l2, b.l2) &+ mul(a.l3, b.l1) &+ mul(a.l4, b.l0)
        return fold(r0, r1, r2, r3, r4)
    }

    /// The square, cheaper than `self * self`; same bounds as `*`.
    func squared() -> FieldElement {
        let d0 = l0 &* 2, d1 = l1 &* 2, d2 = l2 &* 2
        let m3 = l3 &* 19, m4 = l4 &* 19
        let r0 = Self.mul(l0, l0) &+ Self.mul(d1, m4) &+ Self.mul(d2, m3)
        let r1 = Self.mul(d0, l1) &+ Self.mul(d2, m4) &+ Self.mul(l3, m3)
        let r2 = Self.mul(d0, l2) &+ Self.mul(l1, l1) &+ Self.mul(l3 &* 2, m4)
        let r3 = Self.mul(d0, l3) &+ Self.mul(d1, l2) &+ Self.mul(l4, m4)
        let r4 = Self.mul(d0, l4) &+ Self.mul(d1, l3) &+ Self.mul(l2, l2)
        return Self.fold(r0, r1, r2, r3, r4)
    }

    /// `self` raised to 2^count.
    func squared(times count: Int) -> FieldElement {
        var r = self
        for _ in 0..<count {
            r = r.squared()
        }
        return r
    }

    /// The multiplicative inverse, as self^(p − 2); the inverse of 0 is 0.
    func inverted() -> FieldElement {
        // Addition chain for p − 2 = 2^255 − 21: build self^(2^k − 1) for k = 5, 10, 20, 50, 100,
        // 250, then shift by 5 and multiply by self^11.
        let z2 = squared()
        let z9 = z2.squared(times: 2) * self
        let z11 = z9 * z2
        let e5 = z11.squared() * z9
        let e10 = e5.squared(times: 5) * e5
        let e20 = e10.squared(times: 10) * e10
        let e40 = e20.squared(times: 20) * e20
        let e50 = e40.squared(times: 10) * e10
        let e100 = e50.squared(times: 50) * e50
        let e200 = e100.squared(times: 100) * e100
        let e250 = e200.squared(times: 50) * e50
        return e250.squared(times: 5) * z11
    }

    /// `b` where `mask` is all ones, `a` where it is zero, without branching.
    static func select(_ a: FieldElement, _ b: FieldElement, mask: UInt64) -> FieldElement {
        FieldElement(
            a.l0 ^ (mask & (a.l0 ^ b.l0)),
            a.l1 ^ (mask & (a.l1 ^ b.l1)),
            a.l2 ^ (mask & (a.l2 ^ b.l2)),
            a.l3 ^ (mask & (a.l3 ^ b.l3)),
            a.l4 ^ (mask & (a.l4 ^ b.l4))
        )
    }

    private static func mul(_ a: UInt64, _ b: UInt64) -> UInt128 {
        UInt128(truncatingIfNeeded: a) &* UInt128(truncatingIfNeeded: b)
    }

    /// Carries five 128-bit column sums (each < 2^116) into 51-bit limbs.
    private static func fold(_ r0: UInt128, _ r1: UInt128, _ r2: UInt128, _ r3: UInt128, _ r4: UInt128) -> FieldElement {
        let mask = UInt128(mask51)
        let c1 = r1 &+ (r0 >> 51)
        let c2 = r2 &+ (c1 >> 51)
        let c3 = r3 &+ (c2 >> 51)
        let c4 = r4 &+ (c3 >> 51)
        let c0 = (r0 & mask) &+ (c4 >> 51) &* 19
        let low = UInt64(truncatingIfNeeded: c0 & mask)
        let next = UInt64(truncatingIfNeeded: c1 & mask) &+ UInt64(truncatingIfNeeded: c0 >> 51)
        return FieldElement(
            low,
            next,
            UInt64(truncatingIfNeeded: c2 & mask),
            UInt64(truncatingIfNeeded: c3 & mask),
            UInt64(truncatingIfNeeded: c4 & mask)
        )
    }
}
