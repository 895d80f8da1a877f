/// Appends the fixed-width fields of the stored record formats (integers big-endian).
struct RecordWriter {
    private(set) var bytes: [UInt8] = []

    mutating func uint8(_ value: UInt8) {
        bytes.append(value)
    }

    mutating func uint16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func uint32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    /// A 32-byte key; records only ever hold keys of exactly that length.
    mutating func key(_ value: [UInt8]) {
        precondition(value.count == 32, "stored keys are 32 bytes")
        bytes.append(contentsOf: value)
    }
}
