/// The data encoding modes we produce; Kanji and mixed segments are not worth their code here.
enum EncodingMode: Sendable {
    case numeric
    case alphanumeric
    case byte

    var indicator: UInt32 {
        switch self {
        case .numeric: 0b0001
        case .alphanumeric: 0b0010
        case .byte: 0b0100
        }
    }

    /// Width of the character count field, which grows with the version.
    func countBits(version: Int) -> Int {
        let tier = version <= 9 ? 0 : version <= 26 ? 1 : 2
        switch self {
        case .numeric: return [10, 12, 14][tier]
        case .alphanumeric: return [9, 11, 13][tier]
        case .byte: return [8, 16, 16][tier]
        }
    }
}

/// One run of data in one mode: its character count and its encoded bits without a header.
struct Segment: Sendable {
    let mode: EncodingMode
    let count: Int
    let payload: BitBuffer

    init(text: String) {
        let bytes = Array(text.utf8)
        if !bytes.isEmpty, bytes.allSatisfy({ (0x30...0x39).contains($0) }) {
            self.init(numeric: bytes)
        } else if !bytes.isEmpty, bytes.allSatisfy({ Self.alphanumericValue($0) != nil }) {
            self.init(alphanumeric: bytes)
        } else {
            self.init(bytes: bytes)
        }
    }

    init(bytes: [UInt8]) {
        var payload = BitBuffer()
        for byte in bytes {
            payload.append(UInt32(byte), count: 8)
        }
        self.init(mode: .byte, count: bytes.count, payload: payload)
    }

    /// Digits go three to 10 bits; a trailing pair takes 7 bits, a single digit 4.
    private init(numeric digits: [UInt8]) {
        var payload = BitBuffer()
        var index = 0
        while index < digits.count {
            let group = digits[index..<min(index + 3, digits.count)]
            let value = group.reduce(UInt32(0)) { $0 * 10 + UInt32($1 - 0x30) }
            payload.append(value, count: group.count * 3 + 1)
            index += 3
        }
        self.init(mode: .numeric, count: digits.count, payload: payload)
    }

    /// Characters go two to 11 bits as 45 × first + second; a trailing one takes 6 bits.
    private init(alphanumeric characters: [UInt8]) {
        let values = characters.map { UInt32(Self.alphanumericValue($0) ?? 0) }
        var payload = BitBuffer()
        var index = 0
        while index + 1 < values.count {
            payload.append(values[index] * 45 + values[index + 1], count: 11)
            index += 2
        }
        if index < values.count {
            payload.append(values[index], count: 6)
        }
        self.init(mode: .alphanumeric, count: characters.count, payload: payload)
    }

    private init(mode: EncodingMode, count: Int, payload: BitBuffer) {
        self.mode = mode
        self.count = count
        self.payload = payload
    }

    /// Bits this segment needs with its header at `version`, or nil when the count field is too narrow.
    func encodedBitCount(version: Int) -> Int? {
        let countBits = mode.countBits(version: version)
        guard count < 1 << countBits else { return nil }
        return 4 + countBits + payload.count
    }

    /// The 45-character alphabet: digits, upper-case letters, then " $%*+-./:".
    static func alphanumericValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: return Int(byte - 0x30)
        case 0x41...0x5A: return Int(byte - 0x41) + 10
        case 0x20: return 36
        case 0x24: return 37
        case 0x25: return 38
        case 0x2A: return 39
        case 0x2B: return 40
        case 0x2D: return 41
        case 0x2E: return 42
        case 0x2F: return 43
        case 0x3A: return 44
        default: return nil
        }
    }
}

/// A growable sequence of bits, most significant first within each byte.
struct BitBuffer: Sendable, Hashable {
    private(set) var bytes: [UInt8] = []
    private(set) var count = 0

    /// Appends the low `count` bits of `value`, highest first.
    mutating func append(_ value: UInt32, count: Int) {
        for shift in stride(from: count - 1, through: 0, by: -1) {
            if self.count % 8 == 0 {
                bytes.append(0)
            }
            if value >> UInt32(shift) & 1 == 1 {
                bytes[bytes.count - 1] |= 0x80 >> UInt8(self.count % 8)
            }
            self.count += 1
        }
    }

    mutating func append(_ other: BitBuffer) {
        for index in 0..<other.count {
            append(UInt32(other.bytes[index / 8] >> UInt8(7 - index % 8) & 1), count: 1)
        }
    }
}
