/// The symbol under construction: module colours plus which modules belong to function patterns.
struct ModuleGrid: Sendable {
    let size: Int
    /// Row-major, true for dark.
    private(set) var dark: [Bool]
    /// Function patterns and information areas: never hold data and are never masked.
    private(set) var reserved: [Bool]

    /// A grid with every function pattern and the version information drawn. The format bits
    /// depend on the mask, so they are drawn here only to reserve their modules; each mask
    /// candidate draws its own.
    init(version: Int) {
        size = 4 * version + 17
        dark = [Bool](repeating: false, count: size * size)
        reserved = [Bool](repeating: false, count: size * size)

        for (x, y) in [(3, 3), (size - 4, 3), (3, size - 4)] {
            drawFinder(centreX: x, centreY: y)
        }
        for index in 8..<size - 8 {
            set(x: index, y: 6, dark: index % 2 == 0)
            set(x: 6, y: index, dark: index % 2 == 0)
        }
        let centres = SymbolTable.alignmentCentres[version - 1]
        for y in centres {
            for x in centres where !overlapsFinder(x: x, y: y, last: centres.last ?? 0) {
                drawAlignment(centreX: x, centreY: y)
            }
        }
        drawFormat(correction: .medium, mask: 0)
        set(x: 8, y: size - 8, dark: true)
        if version >= 7 {
            drawVersion(version)
        }
    }

    private func overlapsFinder(x: Int, y: Int, last: Int) -> Bool {
        (x == 6 && y == 6) || (x == 6 && y == last) || (x == last && y == 6)
    }

    /// A 7×7 finder ringed by its light separator, clipped at the symbol's edge.
    private mutating func drawFinder(centreX: Int, centreY: Int) {
        for dy in -4...4 {
            for dx in -4...4 {
                let x = centreX + dx
                let y = centreY + dy
                guard x >= 0, y >= 0, x < size, y < size else { continue }
                let ring = max(abs(dx), abs(dy))
                set(x: x, y: y, dark: ring != 2 && ring != 4)
            }
        }
    }

    private mutating func drawAlignment(centreX: Int, centreY: Int) {
        for dy in -2...2 {
            for dx in -2...2 {
                set(x: centreX + dx, y: centreY + dy, dark: max(abs(dx), abs(dy)) != 1)
            }
        }
    }

    /// Both copies of the 15 format bits; bit 14 is the most significant.
    mutating func drawFormat(correction: ErrorCorrection, mask: Int) {
        let bits = Self.formatBits(correction: correction, mask: mask)
        func bit(_ index: Int) -> Bool { bits >> UInt32(index) & 1 == 1 }

        // Around the top-left finder: down column 8 (skipping the timing row), then left along row 8.
        for index in 0...5 {
            set(x: 8, y: index, dark: bit(index))
        }
        set(x: 8, y: 7, dark: bit(6))
        set(x: 8, y: 8, dark: bit(7))
        set(x: 7, y: 8, dark: bit(8))
        for index in 9...14 {
            set(x: 14 - index, y: 8, dark: bit(index))
        }
        // Split between the other two finders.
        for index in 0...7 {
            set(x: size - 1 - index, y: 8, dark: bit(index))
        }
        for index in 8...14 {
            set(x: 8, y: size - 15 + index, dark: bit(index))
        }
    }

    /// The 18 version bits, as a 3×6 block left of the top-right finder and its transpose above
    /// the bottom-left one; bit 0 is the least significant.
    private mutating func drawVersion(_ version: Int) {
        let bits = Self.versionBits(version: version)
        for index in 0..<18 {
            let isDark = bits >> UInt32(index) & 1 == 1
            let near = size - 11 + index % 3
            let far = index / 3
            set(x: near, y: far, dark: isDark)
            set(x: far, y: near, dark: isDark)
        }
    }

    /// Level and mask protected by BCH(15,5) with generator 0x537, then XORed with 0x5412 so the
    /// area is never all light.
    static func formatBits(correction: ErrorCorrection, mask: Int) -> UInt32 {
        let data = correction.formatBits << 3 | UInt32(mask)
        return (data << 10 | bchRemainder(data << 10, generator: 0x537)) ^ 0x5412
    }

    /// The version number protected by BCH(18,6) with generator 0x1F25.
    static func versionBits(version: Int) -> UInt32 {
        let data = UInt32(version)
        return data << 12 | bchRemainder(data << 12, generator: 0x1F25)
    }

    private static func bchRemainder(_ value: UInt32, generator: UInt32) -> UInt32 {
        let generatorLength = UInt32.bitWidth - generator.leadingZeroBitCount
        var remainder = value
        while remainder != 0, UInt32.bitWidth - remainder.leadingZeroBitCount >= generatorLength {
            remainder ^= generator << UInt32(UInt32.bitWidth - remainder.leadingZeroBitCount - generatorLength)
        }
        return remainder
    }

    private mutating func set(x: Int, y: Int, dark isDark: Bool) {
        dark[y * size + x] = isDark
        reserved[y * size + x] = true
    }

    /// Fills the free modules in the standard zigzag: two-module-wide columns from the right edge,
    /// alternately upwards and downwards, stepping over the vertical timing line. Modules left
    /// over after the last codeword (the remainder bits) stay light.
    mutating func place(_ codewords: [UInt8]) {
        let bitCount = codewords.count * 8
        var bitIndex = 0
        var upwards = true
        var right = size - 1
        while right > 0 {
            if right == 6 {
                right = 5
            }
            for step in 0..<size {
                let y = upwards ? size - 1 - step : step
                for x in stride(from: right, through: right - 1, by: -1) where !reserved[y * size + x] {
                    if bitIndex < bitCount {
                        dark[y * size + x] = codewords[bitIndex / 8] >> UInt8(7 - bitIndex % 8) & 1 == 1
                        bitIndex += 1
                    }
                }
            }
            upwards.toggle()
            right -= 2
        }
    }

    /// Inverts the data modules where the mask condition holds; applying it twice undoes it.
    mutating func applyMask(_ mask: Int) {
        for y in 0..<size {
            for x in 0..<size where !reserved[y * size + x] && Self.maskInverts(mask, x: x, y: y) {
                dark[y * size + x].toggle()
            }
        }
    }

    /// The eight mask conditions of the standard, with i the row and j the column.
    static func maskInverts(_ mask: Int, x j: Int, y i: Int) -> Bool {
        switch mask {
        case 0: (i + j) % 2 == 0
        case 1: i % 2 == 0
        case 2: j % 3 == 0
        case 3: (i + j) % 3 == 0
        case 4: (i / 2 + j / 3) % 2 == 0
        case 5: (i * j) % 2 + (i * j) % 3 == 0
        case 6: ((i * j) % 2 + (i * j) % 3) % 2 == 0
        default: ((i + j) % 2 + (i * j) % 3) % 2 == 0
        }
    }

    /// The four penalty rules; the encoder keeps the mask that scores lowest.
    func penalty() -> Int {
        Self.penalty(of: dark, size: size)
    }

    /// The penalty of any square module pattern, row-major with true for dark.
    static func penalty(of dark: [Bool], size: Int) -> Int {
        var total = 0
        for line in 0..<size {
            total += linePenalty(dark, start: line * size, step: 1, count: size)
            total += linePenalty(dark, start: line, step: size, count: size)
        }
        // Rule 2: every 2×2 block of one colour, overlapping blocks counted separately. Summed
        // without branches: on masked data the outcome is a coin toss the CPU cannot predict.
        for y in 0..<size - 1 {
            for x in 0..<size - 1 {
                let topLeft = dark[y * size + x]
                let differs = (dark[y * size + x + 1] != topLeft ? 1 : 0)
                    | (dark[(y + 1) * size + x] != topLeft ? 1 : 0)
                    | (dark[(y + 1) * size + x + 1] != topLeft ? 1 : 0)
                total += 3 * (1 - differs)
            }
        }
        // Rule 4: 10 points for each full 5 % the dark share strays from half.
        let darkCount = dark.reduce(0) { $0 + ($1 ? 1 : 0) }
        total += abs(darkCount * 20 - dark.count * 10) / dark.count * 10
        return total
    }

    /// Rules 1 and 3 along one row or column. A run of five or more of one colour scores
    /// 3 + (length − 5), counted as it grows: 3 at its fifth module, 1 for each one after. Each
    /// finder-like 1:1:3:1:1 run with four light modules on one side (within the symbol) scores 40.
    private static func linePenalty(_ dark: [Bool], start: Int, step: Int, count: Int) -> Int {
        var total = 0
        var previous = false
        var runLength = 0
        var window: UInt32 = 0
        for index in 0..<count {
            let colour = dark[start + index * step]
            runLength = (colour == previous ? runLength : 0) + 1
            previous = colour
            total += runLength == 5 ? 3 : runLength > 5 ? 1 : 0
            window = (window << 1 | (colour ? 1 : 0)) & 0x7FF
            if index >= 10, window == 0b101_1101_0000 || window == 0b000_0101_1101 {
                total += 40
            }
        }
        return total
    }
}
