import Crypto
import Testing
@testable import WAWire

@Suite struct SignatureCurveArithmeticTests {
    typealias Kit = CryptoTestKit

    static func element(_ generator: inout SeededRandom) -> FieldElement {
        FieldElement(littleEndianBytes: generator.bytes(32))
    }

    static func same(_ a: FieldElement, _ b: FieldElement) -> Bool {
        a.littleEndianBytes == b.littleEndianBytes
    }

    @Test func fieldInverseTimesValueIsOne() {
        var generator = SeededRandom(seed: 1)
        for _ in 0..<50 {
            let x = Self.element(&generator)
            #expect(Self.same(x * x.inverted(), .one))
        }
        #expect(Self.same(FieldElement.zero.inverted(), .zero))
    }

    @Test func fieldEncodingIsCanonical() {
        // p itself and p + 1 (bit 255 clear) reduce to 0 and 1; bit 255 is ignored.
        var p = [UInt8](repeating: 0xFF, count: 32)
        p[0] = 0xED
        p[31] = 0x7F
        #expect(FieldElement(littleEndianBytes: p).littleEndianBytes == [UInt8](repeating: 0, count: 32))
        p[0] = 0xEE
        #expect(FieldElement(littleEndianBytes: p).littleEndianBytes == [1] + [UInt8](repeating: 0, count: 31))
        var generator = SeededRandom(seed: 2)
        for _ in 0..<50 {
            var bytes = generator.bytes(32)
            bytes[31] &= 0x7F
            if bytes[31] == 0x7F { bytes[31] = 0x7E }
            #expect(FieldElement(littleEndianBytes: bytes).littleEndianBytes == bytes)
            var high = bytes
            high[31] |= 0x80
            #expect(FieldElement(littleEndianBytes: high).littleEndianBytes == bytes)
        }
    }

    @Test func fieldArithmeticAgreesWithItself() {
        var generator = SeededRandom(seed: 3)
        for _ in 0..<50 {
            let a = Self.element(&generator), b = Self.element(&generator), c = Self.element(&generator)
            #expect(Self.same(a.squared(), a * a))
            #expect(Self.same((a + b) * c, a * c + b * c))
            #expect(Self.same((a - b) + b, a))
            #expect(Self.same(-(-a), a))
            #expect(Self.same(a * (b * c), (a * b) * c))
        }
    }

    @Test func curveConstantsAreRight() {
        let d = EdwardsPoint.d
        #expect(Self.same(d * FieldElement(121_666, 0, 0, 0, 0), -FieldElement(121_665, 0, 0, 0, 0)))
        let base = EdwardsPoint.base
        let x2 = base.x.squared(), y2 = base.y.squared()
        #expect(Self.same(y2 - x2, .one + d * x2 * y2))
        #expect(Self.same(base.y * FieldElement(5, 0, 0, 0, 0), FieldElement(4, 0, 0, 0, 0)))
        #expect(base.x.parity == 0)
    }

    @Test func baseMultiplicationMatchesEd25519PublicKeys() throws {
        var generator = SeededRandom(seed: 4)
        for _ in 0..<30 {
            let seed = generator.bytes(32)
            let expected = try Curve25519.Signing.PrivateKey(rawRepresentation: seed).publicKey.rawRepresentation
            let scalar = Curve25519KeyPair.clamped(Array(SHA512.hash(data: seed).prefix(32)))
            #expect(EdwardsPoint.base.multiplied(by: scalar).encoded == Array(expected))
        }
    }

    @Test func montgomeryFormOfTheEdwardsKeyIsTheX25519PublicKey() {
        var generator = SeededRandom(seed: 5)
        for _ in 0..<30 {
            let pair = Curve25519KeyPair.generate(using: &generator)
            let y = EdwardsPoint.base.multiplied(by: pair.privateKey).affineY
            let u = (FieldElement.one + y) * (FieldElement.one - y).inverted()
            #expect(u.littleEndianBytes == pair.publicKey)
        }
    }

    @Test func variablePointMultiplicationComposes() {
        var generator = SeededRandom(seed: 6)
        let zero = CurveScalar(reducing: [UInt8]())
        for _ in 0..<10 {
            let a = CurveScalar(reducing: generator.bytes(64)), b = CurveScalar(reducing: generator.bytes(64))
            let point = EdwardsPoint.base.multiplied(by: b.littleEndianBytes)
            let composed = point.multiplied(by: a.littleEndianBytes)
            let direct = EdwardsPoint.base.multiplied(by: CurveScalar.multiplyAdd(a, b, zero).littleEndianBytes)
            #expect(composed.encoded == direct.encoded)
            #expect(point.doubled().encoded == (point + point).encoded)
            #expect((point + point.negated()).encoded == EdwardsPoint.identity.encoded)
        }
    }

    @Test func groupOrderAnnihilatesTheBasePoint() {
        let order = Kit.bytes("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
        #expect(EdwardsPoint.base.multiplied(by: order).encoded == EdwardsPoint.identity.encoded)
        #expect(EdwardsPoint.identity.encoded == [1] + [UInt8](repeating: 0, count: 31))
    }

    @Test func scalarsReduceModuloTheGroupOrder() {
        let order = Kit.bytes("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
        let zero = [UInt8](repeating: 0, count: 32)
        #expect(CurveScalar(reducing: order).littleEndianBytes == zero)
        #expect(CurveScalar(reducing: [UInt8](repeating: 0xFF, count: 64)).littleEndianBytes
            == Kit.bytes("000f9c44e31106a447938568a71b0ed065bef517d273ecce3d9a307c1b419903"))
        var orderMinusOne = order
        orderMinusOne[0] -= 1
        let big = CurveScalar(reducing: orderMinusOne)
        #expect(CurveScalar.multiplyAdd(big, big, big).littleEndianBytes == zero)
        #expect(big.negated().littleEndianBytes == [1] + [UInt8](repeating: 0, count: 31))
        #expect(CurveScalar(reducing: zero).negated().littleEndianBytes == zero)
    }
}
