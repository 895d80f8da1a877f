import Testing
@testable import QRCode

@Suite("Reed–Solomon over GF(256)")
struct ReedSolomonTests {
    @Test func fieldPowersReduceByThe0x11DPolynomial() {
        #expect(ReedSolomon.power(7) == 128)
        #expect(ReedSolomon.power(8) == 29)
        #expect(ReedSolomon.power(25) == 3)
        #expect(ReedSolomon.power(255) == 1)
        #expect(ReedSolomon.multiply(ReedSolomon.power(100), ReedSolomon.power(200)) == ReedSolomon.power(45))
        #expect(ReedSolomon.multiply(0, 77) == 0)
    }

    @Test func degreeTenGeneratorMatchesTheTutorialExponents() {
        let exponents = [251, 67, 46, 61, 118, 70, 64, 94, 32, 45]
        #expect(ReedSolomon.generator(degree: 10) == exponents.map(ReedSolomon.power))
    }

    @Test func helloWorldVersionOneMediumCorrectionCodewords() {
        let data: [UInt8] = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]
        let correction = ReedSolomon.remainder(of: data, generator: ReedSolomon.generator(degree: 10))
        #expect(correction == [196, 35, 39, 119, 235, 215, 231, 226, 93, 23])
    }

    @Test func helloWorldVersionOneQuartileCorrectionCodewords() {
        let data: [UInt8] = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236]
        let correction = ReedSolomon.remainder(of: data, generator: ReedSolomon.generator(degree: 13))
        #expect(correction == [168, 72, 22, 82, 217, 54, 156, 0, 46, 15, 180, 122, 16])
    }

    /// The first block of the tutorial's 5-Q example: 15 data codewords, 18 correction codewords.
    @Test func versionFiveQuartileFirstBlockCorrectionCodewords() {
        let data: [UInt8] = [67, 85, 70, 134, 87, 38, 85, 194, 119, 50, 6, 18, 6, 103, 38]
        let correction = ReedSolomon.remainder(of: data, generator: ReedSolomon.generator(degree: 18))
        #expect(correction == [213, 199, 11, 45, 115, 247, 241, 223, 229, 248, 154, 117, 154, 111, 86, 161, 111, 39])
    }

    /// A codeword (data followed by its remainder) is a multiple of the generator, so it vanishes
    /// at every generator root αⁱ.
    @Test(arguments: [7, 10, 16, 22, 30])
    func codewordsVanishAtTheGeneratorRoots(degree: Int) {
        let data = (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ degree) }
        let codeword = data + ReedSolomon.remainder(of: data, generator: ReedSolomon.generator(degree: degree))
        for root in 0..<degree {
            let point = ReedSolomon.power(root)
            let value = codeword.reduce(UInt8(0)) { ReedSolomon.multiply($0, point) ^ $1 }
            #expect(value == 0, "root α^\(root)")
        }
    }
}
