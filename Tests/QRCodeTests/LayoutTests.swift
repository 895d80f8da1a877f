import Testing
@testable import QRCode

@Suite("Symbol layout")
struct LayoutTests {
    /// The 32 format information strings of the standard, levels L, M, Q, H, masks 0–7.
    @Test func formatBitsMatchTheStandardTable() {
        let expected: [ErrorCorrection: [String]] = [
            .low: ["111011111000100", "111001011110011", "111110110101010", "111100010011101",
                   "110011000101111", "110001100011000", "110110001000001", "110100101110110"],
            .medium: ["101010000010010", "101000100100101", "101111001111100", "101101101001011",
                      "100010111111001", "100000011001110", "100111110010111", "100101010100000"],
            .quartile: ["011010101011111", "011000001101000", "011111100110001", "011101000000110",
                        "010010010110100", "010000110000011", "010111011011010", "010101111101101"],
            .high: ["001011010001001", "001001110111110", "001110011100111", "001100111010000",
                    "000011101100010", "000001001010101", "000110100001100", "000100000111011"],
        ]
        for correction in ErrorCorrection.allCases {
            let actual = (0..<8).map { binary(ModuleGrid.formatBits(correction: correction, mask: $0), width: 15) }
            #expect(actual == expected[correction], "\(correction)")
        }
    }

    @Test func versionBitsMatchTheStandardTable() {
        #expect(binary(ModuleGrid.versionBits(version: 7), width: 18) == "000111110010010100")
        #expect(binary(ModuleGrid.versionBits(version: 8), width: 18) == "001000010110111100")
        #expect(binary(ModuleGrid.versionBits(version: 40), width: 18) == "101000110001101001")
    }

    @Test(arguments: 1...40)
    func freeModulesMatchTheCodewordCapacity(version: Int) {
        let grid = ModuleGrid(version: version)
        let free = grid.reserved.filter { !$0 }.count
        #expect(free == SymbolTable.dataModuleCount(version: version))
        let remainderBits = free - SymbolTable.totalCodewordCount(version: version) * 8
        let expectedRemainder = switch version {
        case 2...6: 7
        case 14...20, 28...34: 3
        case 21...27: 4
        default: 0
        }
        #expect(remainderBits == expectedRemainder)
    }

    /// Annex E spaces the centres evenly from the far edge back towards 6, in even steps; the
    /// first gap takes what is left (version 32's is even wider than its step).
    @Test(arguments: 2...40)
    func alignmentCentresAreEvenlySpacedFromTheFarEdge(version: Int) {
        let centres = SymbolTable.alignmentCentres[version - 1]
        #expect(centres.count == version / 7 + 2)
        #expect(centres.first == 6)
        #expect(centres.last == 4 * version + 10)
        let steps = zip(centres.dropFirst(2), centres.dropFirst()).map { $0 - $1 }
        #expect(Set(steps).count <= 1)
        #expect(steps.allSatisfy { $0 % 2 == 0 && $0 >= 16 })
    }

    @Test(arguments: [1, 2, 7, 22, 40])
    func functionPatternsSitWhereTheStandardPutsThem(version: Int) throws {
        let code = try QRCode.encode("pattern check", minimumVersion: version)
        let size = code.size
        #expect(size == 4 * version + 17)
        for (left, top) in [(0, 0), (size - 7, 0), (0, size - 7)] {
            for dy in -1...7 {
                for dx in -1...7 {
                    let ring = max(abs(dx - 3), abs(dy - 3))
                    #expect(code[left + dx, top + dy] == (ring != 2 && ring != 4), "finder at \(left),\(top)")
                }
            }
        }
        for index in 8..<size - 8 {
            #expect(code[index, 6] == (index % 2 == 0))
            #expect(code[6, index] == (index % 2 == 0))
        }
        #expect(code[8, size - 8])
        let centres = SymbolTable.alignmentCentres[version - 1]
        if let last = centres.last {
            #expect(code[last, last])
            #expect(!code[last - 1, last])
            #expect(code[last - 2, last - 2])
        }
    }

    @Test(arguments: ErrorCorrection.allCases)
    func bothFormatCopiesCarryTheLevelAndChosenMask(correction: ErrorCorrection) throws {
        let code = try QRCode.encode(pairingString, correction: correction)
        let size = code.size
        var first: UInt32 = 0
        var second: UInt32 = 0
        let firstPositions = (0...5).map { (8, $0) } + [(8, 7), (8, 8), (7, 8)] + (9...14).map { (14 - $0, 8) }
        let secondPositions = (0...7).map { (size - 1 - $0, 8) } + (8...14).map { (8, size - 15 + $0) }
        for (bit, position) in firstPositions.enumerated() where code[position.0, position.1] {
            first |= 1 << UInt32(bit)
        }
        for (bit, position) in secondPositions.enumerated() where code[position.0, position.1] {
            second |= 1 << UInt32(bit)
        }
        #expect(first == ModuleGrid.formatBits(correction: correction, mask: code.mask))
        #expect(second == first)
    }

    @Test func bothVersionCopiesCarryTheVersion() throws {
        let code = try QRCode.encode("version information", minimumVersion: 23)
        var topRight: UInt32 = 0
        var bottomLeft: UInt32 = 0
        for bit in 0..<18 {
            if code[code.size - 11 + bit % 3, bit / 3] { topRight |= 1 << UInt32(bit) }
            if code[bit / 3, code.size - 11 + bit % 3] { bottomLeft |= 1 << UInt32(bit) }
        }
        #expect(topRight == ModuleGrid.versionBits(version: 23))
        #expect(bottomLeft == topRight)
    }

    @Test func maskIsTheOneWithTheLowestPenalty() throws {
        let segment = Segment(text: pairingString)
        let code = try QRCode.encode(pairingString)
        let data = QRCode.dataCodewords(for: segment, version: code.version, correction: .medium)
        var grid = ModuleGrid(version: code.version)
        grid.place(SymbolTable.interleavedWithCorrection(data, version: code.version, correction: .medium))
        let penalties = (0..<8).map { mask in
            var candidate = grid
            candidate.applyMask(mask)
            candidate.drawFormat(correction: .medium, mask: mask)
            return candidate.penalty()
        }
        #expect(penalties[code.mask] == penalties.min())
        #expect(penalties.firstIndex(of: penalties.min() ?? 0) == code.mask)
    }

    /// All light 5×5: five-runs in 5 rows and 5 columns (30), 16 uniform 2×2 blocks (48),
    /// and a dark share 50 points from half (100).
    @Test func penaltyOfAnAllLightGrid() {
        #expect(ModuleGrid.penalty(of: [Bool](repeating: false, count: 25), size: 5) == 178)
        #expect(ModuleGrid.penalty(of: [Bool](repeating: true, count: 36), size: 6) == 2 * 6 * 4 + 25 * 3 + 100)
    }

    /// A chequerboard scores nothing; one row replaced by the finder-like 1011101 0000 scores 40.
    @Test func penaltyCountsAFinderLikeRun() {
        var modules = (0..<121).map { ($0 % 11 + $0 / 11) % 2 == 0 }
        #expect(ModuleGrid.penalty(of: modules, size: 11) == 0)
        let finderLike = [true, false, true, true, true, false, true, false, false, false, false]
        modules.replaceSubrange(55..<66, with: finderLike)
        #expect(ModuleGrid.penalty(of: modules, size: 11) == 40)
        modules.replaceSubrange(55..<66, with: finderLike.reversed())
        #expect(ModuleGrid.penalty(of: modules, size: 11) == 40)
    }

    @Test func rowAndColumnRunsScoreThreePlusTheExcessOverFive() {
        // A 7×7 chequerboard with its top row all dark: one run of 7 (3 + 2); the columns and the
        // 2×2 blocks touching row 0 stay mixed.
        var modules = (0..<49).map { ($0 % 7 + $0 / 7) % 2 == 0 }
        modules.replaceSubrange(0..<7, with: [Bool](repeating: true, count: 7))
        // 28 dark of 49 is 57 %: one full 5 % step above half.
        #expect(ModuleGrid.penalty(of: modules, size: 7) == 5 + 10)
    }

    private func binary(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 2)
        return String(repeating: "0", count: width - digits.count) + digits
    }
}
