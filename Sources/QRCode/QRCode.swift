// QRCode: a pure QR Code encoder (ISO/IEC 18004) with SVG and terminal renderers.

/// A QR Code symbol: a square grid of modules, true where the module is dark.
public struct QRCode: Sendable, Hashable {
    /// The symbol version, 1 (21×21 modules) to 40 (177×177).
    public let version: Int
    public let correction: ErrorCorrection
    /// The data mask pattern (0–7) that scored the lowest penalty.
    public let mask: Int
    /// Modules per side, without the quiet zone: 4 × version + 17.
    public let size: Int
    private let modules: [Bool]

    /// Encodes text in the most compact single mode: numeric, alphanumeric, or UTF-8 bytes.
    public static func encode(
        _ text: String,
        correction: ErrorCorrection = .medium,
        minimumVersion: Int = 1
    ) throws(QRCodeError) -> QRCode {
        try encode(segment: Segment(text: text), correction: correction, minimumVersion: minimumVersion)
    }

    /// Encodes arbitrary bytes in byte mode.
    public static func encode(
        bytes: [UInt8],
        correction: ErrorCorrection = .medium,
        minimumVersion: Int = 1
    ) throws(QRCodeError) -> QRCode {
        try encode(segment: Segment(bytes: bytes), correction: correction, minimumVersion: minimumVersion)
    }

    /// Whether the module at column `x`, row `y` is dark; everything outside the symbol is the
    /// light quiet zone, so renderers can draw margins without bounds checks.
    public subscript(x: Int, y: Int) -> Bool {
        guard x >= 0, y >= 0, x < size, y < size else { return false }
        return modules[y * size + x]
    }

    static func encode(
        segment: Segment,
        correction: ErrorCorrection,
        minimumVersion: Int
    ) throws(QRCodeError) -> QRCode {
        guard (1...40).contains(minimumVersion) else {
            throw QRCodeError(code: .invalidMinimumVersion, length: segment.count, correction: correction)
        }
        guard let version = smallestVersion(for: segment, correction: correction, from: minimumVersion) else {
            throw QRCodeError(code: .dataTooLong, length: segment.count, correction: correction)
        }
        let data = dataCodewords(for: segment, version: version, correction: correction)
        let codewords = SymbolTable.interleavedWithCorrection(data, version: version, correction: correction)

        var grid = ModuleGrid(version: version)
        grid.place(codewords)
        var best = grid
        var bestMask = 0
        var bestPenalty = Int.max
        for mask in 0..<8 {
            var candidate = grid
            candidate.applyMask(mask)
            candidate.drawFormat(correction: correction, mask: mask)
            let penalty = candidate.penalty()
            if penalty < bestPenalty {
                best = candidate
                bestMask = mask
                bestPenalty = penalty
            }
        }
        return QRCode(version: version, correction: correction, mask: bestMask, size: best.size, modules: best.dark)
    }

    static func smallestVersion(for segment: Segment, correction: ErrorCorrection, from minimumVersion: Int) -> Int? {
        (minimumVersion...40).first { version in
            guard let bits = segment.encodedBitCount(version: version) else { return false }
            return bits <= SymbolTable.dataCodewordCount(version: version, correction: correction) * 8
        }
    }

    /// The data codewords: header, payload, terminator, then the alternating pad bytes the
    /// standard prescribes so that unused capacity never looks like a finder pattern.
    static func dataCodewords(for segment: Segment, version: Int, correction: ErrorCorrection) -> [UInt8] {
        let capacityBits = SymbolTable.dataCodewordCount(version: version, correction: correction) * 8
        var bits = BitBuffer()
        bits.append(segment.mode.indicator, count: 4)
        bits.append(UInt32(segment.count), count: segment.mode.countBits(version: version))
        bits.append(segment.payload)
        bits.append(0, count: min(4, capacityBits - bits.count))
        bits.append(0, count: (8 - bits.count % 8) % 8)
        var codewords = bits.bytes
        var pad: UInt8 = 0xEC
        while codewords.count * 8 < capacityBits {
            codewords.append(pad)
            pad = pad == 0xEC ? 0x11 : 0xEC
        }
        return codewords
    }
}

/// How much of the symbol may be damaged and still decode: about 7 %, 15 %, 25 % or 30 %.
public enum ErrorCorrection: Sendable, Hashable, CaseIterable {
    case low
    case medium
    case quartile
    case high

    /// The two bits the format information carries; not in the order of strength.
    var formatBits: UInt32 {
        switch self {
        case .low: 0b01
        case .medium: 0b00
        case .quartile: 0b11
        case .high: 0b10
        }
    }
}
