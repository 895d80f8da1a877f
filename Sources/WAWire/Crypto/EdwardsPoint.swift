// Points of the twisted Edwards curve −x² + y² = 1 + d·x²·y² (Ed25519's curve) in extended
// coordinates (X : Y : Z : T) with x = X/Z, y = Y/Z, x·y = T/Z.
//
// Constant time: addition and doubling use the complete formulas of Hisil, Wong, Carter and
// Dawson (2008), which have no special cases, and scalar multiplication walks every 4-bit window
// of all 256 scalar bits, picking the table entry with masked selects over the whole table; the
// encoding sets the sign bit arithmetically. So the instruction trace and memory accesses depend on
// neither the scalar nor the point. What a caller does with the result is up to the caller.

/// A point of Edwards25519 in extended coordinates.
struct EdwardsPoint: Sendable {
    var x: FieldElement
    var y: FieldElement
    var z: FieldElement
    var t: FieldElement

    static var identity: EdwardsPoint {
        EdwardsPoint(x: .zero, y: .one, z: .one, t: .zero)
    }

    /// The standard base point B (y = 4/5, x even).
    static var base: EdwardsPoint {
        let x = FieldElement(0x62D6_08F2_5D51A, 0x412A_4B4F_6592A, 0x75B7_171A_4B31D, 0x1FF6_0527_118FE, 0x2169_36D3_CD6E5)
        let y = FieldElement(0x6666_6666_66658, 0x4CCC_CCCC_CCCCC, 0x1999_9999_99999, 0x3333_3333_33333, 0x6666_6666_66666)
        return EdwardsPoint(x: x, y: y, z: .one, t: x * y)
    }

    /// The curve constant d = −121665/121666.
    static var d: FieldElement {
        FieldElement(0x34DC_A135_978A3, 0x1A82_83B1_56EBD, 0x5E7A_2600_1C029, 0x739C_663A_03CBB, 0x5203_6CEE_2B6FF)
    }

    /// 2·d, used by the addition formula.
    private static var d2: FieldElement {
        FieldElement(0x69B9_426B_2F159, 0x3505_0762_ADD7A, 0x3CF4_4C00_38052, 0x6738_CC74_07977, 0x2406_D9DC_56DFF)
    }

    static func + (p: EdwardsPoint, q: EdwardsPoint) -> EdwardsPoint {
        let a = (p.y - p.x) * (q.y - q.x)
        let b = (p.y + p.x) * (q.y + q.x)
        let c = p.t * d2 * q.t
        let zz = p.z * q.z
        let d = zz + zz
        let e = b - a
        let f = d - c
        let g = d + c
        let h = b + a
        return EdwardsPoint(x: e * f, y: g * h, z: f * g, t: e * h)
    }

    func doubled() -> EdwardsPoint {
        let a = x.squared()
        let b = y.squared()
        let zz = z.squared()
        let c = zz + zz
        let h = a + b
        let e = h - (x + y).squared()
        let g = a - b
        let f = c + g
        return EdwardsPoint(x: e * f, y: g * h, z: f * g, t: e * h)
    }

    /// −P = (−x, y).
    func negated() -> EdwardsPoint {
        EdwardsPoint(x: -x, y: y, z: z, t: -t)
    }

    /// `scalar`·P for a 32-byte little-endian scalar (all 256 bits are used), in constant time.
    func multiplied(by scalar: [UInt8]) -> EdwardsPoint {
        precondition(scalar.count == 32, "a scalar is 32 bytes")
        var table = [EdwardsPoint](repeating: .identity, count: 16)
        for index in 1..<16 {
            table[index] = table[index - 1] + self
        }
        var result = EdwardsPoint.identity
        for window in (0..<64).reversed() {
            result = result.doubled().doubled().doubled().doubled()
            let nibble = UInt64(scalar[window / 2] >> (4 * UInt8(window % 2))) & 0x0F
            result = result + Self.select(from: table, index: nibble)
        }
        return result
    }

    /// The 32-byte encoding: y little-endian with bit 255 set to the low bit of x.
    var encoded: [UInt8] {
        let inverse = z.inverted()
        var bytes = (y * inverse).littleEndianBytes
        bytes[31] |= (x * inverse).parity << 7
        return bytes
    }

    /// The affine y coordinate (for the Montgomery u = (1 + y)/(1 − y) of the same point).
    var affineY: FieldElement {
        y * z.inverted()
    }

    /// `table[index]`, reading every entry so the access pattern does not reveal `index`.
    private static func select(from table: [EdwardsPoint], index: UInt64) -> EdwardsPoint {
        var chosen = EdwardsPoint.identity
        for candidate in 0..<table.count {
            // All ones when candidate == index (the subtraction borrows only from 0), else zero.
            let mask = 0 &- ((UInt64(candidate) ^ index) &- 1) >> 63
            let entry = table[candidate]
            chosen.x = FieldElement.select(chosen.x, entry.x, mask: mask)
            chosen.y = FieldElement.select(chosen.y, entry.y, mask: mask)
            chosen.z = FieldElement.select(chosen.z, entry.z, mask: mask)
            chosen.t = FieldElement.select(chosen.t, entry.t, mask: mask)
        }
        return chosen
    }
}
