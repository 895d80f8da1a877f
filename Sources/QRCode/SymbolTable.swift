/// The per-version facts of ISO/IEC 18004: block structure (Table 9) and alignment centres (Annex E).
enum SymbolTable {
    /// Error-correction codewords in each block, indexed [level][version - 1], levels L, M, Q, H.
    private static let correctionCodewordsPerBlock: [[Int]] = [
        [7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
         28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
         26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
        [13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
         28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
         30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    ]

    /// Error-correction blocks (both groups together), indexed like the table above.
    private static let blockCounts: [[Int]] = [
        [1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
         8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
        [1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
         17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
        [1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20,
         23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
        [1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
         25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
    ]

    /// Row/column coordinates of alignment pattern centres, indexed [version - 1].
    static let alignmentCentres: [[Int]] = [
        [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34],
        [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50], [6, 30, 54], [6, 32, 58], [6, 34, 62],
        [6, 26, 46, 66], [6, 26, 48, 70], [6, 26, 50, 74], [6, 30, 54, 78], [6, 30, 56, 82],
        [6, 30, 58, 86], [6, 34, 62, 90],
        [6, 28, 50, 72, 94], [6, 26, 50, 74, 98], [6, 30, 54, 78, 102], [6, 28, 54, 80, 106],
        [6, 32, 58, 84, 110], [6, 30, 58, 86, 114], [6, 34, 62, 90, 118],
        [6, 26, 50, 74, 98, 122], [6, 30, 54, 78, 102, 126], [6, 26, 52, 78, 104, 130],
        [6, 30, 56, 82, 108, 134], [6, 34, 60, 86, 112, 138], [6, 30, 58, 86, 114, 142],
        [6, 34, 62, 90, 118, 146],
        [6, 30, 54, 78, 102, 126, 150], [6, 24, 50, 76, 102, 128, 154], [6, 28, 54, 80, 106, 132, 158],
        [6, 32, 58, 84, 110, 136, 162], [6, 26, 54, 82, 110, 138, 166], [6, 30, 58, 86, 114, 142, 170],
    ]

    private static func levelIndex(_ correction: ErrorCorrection) -> Int {
        switch correction {
        case .low: 0
        case .medium: 1
        case .quartile: 2
        case .high: 3
        }
    }

    static func correctionCodewordsPerBlock(version: Int, correction: ErrorCorrection) -> Int {
        correctionCodewordsPerBlock[levelIndex(correction)][version - 1]
    }

    static func blockCount(version: Int, correction: ErrorCorrection) -> Int {
        blockCounts[levelIndex(correction)][version - 1]
    }

    /// Modules left for codewords once every function pattern and info area is taken.
    static func dataModuleCount(version: Int) -> Int {
        let size = 4 * version + 17
        // Three finders with separators (8×8 each), both format copies plus the dark module,
        // and the two timing lines between the separators.
        var modules = size * size - 3 * 64 - 31 - 2 * (size - 16)
        let centres = alignmentCentres[version - 1].count
        if centres > 0 {
            // Three centre positions sit on finders; the patterns on row/column 6 each cover
            // five timing modules already subtracted.
            modules -= 25 * (centres * centres - 3) - 10 * (centres - 2)
        }
        if version >= 7 {
            modules -= 2 * 18
        }
        return modules
    }

    /// Whole codewords the symbol holds; leftover modules (0–7) are remainder bits.
    static func totalCodewordCount(version: Int) -> Int {
        dataModuleCount(version: version) / 8
    }

    static func dataCodewordCount(version: Int, correction: ErrorCorrection) -> Int {
        totalCodewordCount(version: version)
            - correctionCodewordsPerBlock(version: version, correction: correction)
            * blockCount(version: version, correction: correction)
    }

    /// Splits the data into blocks (the shorter group first), appends each block's Reed–Solomon
    /// codewords, and interleaves column by column so a burst of damage spreads over many blocks.
    static func interleavedWithCorrection(_ data: [UInt8], version: Int, correction: ErrorCorrection) -> [UInt8] {
        let blocks = blockCount(version: version, correction: correction)
        let correctionLength = correctionCodewordsPerBlock(version: version, correction: correction)
        let shortLength = data.count / blocks
        let longBlocks = data.count % blocks
        let generator = ReedSolomon.generator(degree: correctionLength)

        var dataBlocks: [ArraySlice<UInt8>] = []
        var correctionBlocks: [[UInt8]] = []
        var start = 0
        for block in 0..<blocks {
            let length = shortLength + (block >= blocks - longBlocks ? 1 : 0)
            let slice = data[start..<start + length]
            dataBlocks.append(slice)
            correctionBlocks.append(ReedSolomon.remainder(of: slice, generator: generator))
            start += length
        }

        var result: [UInt8] = []
        result.reserveCapacity(data.count + blocks * correctionLength)
        for column in 0...shortLength {
            for block in dataBlocks where column < block.count {
                result.append(block[block.startIndex + column])
            }
        }
        for column in 0..<correctionLength {
            for block in correctionBlocks {
                result.append(block[column])
            }
        }
        return result
    }
}
