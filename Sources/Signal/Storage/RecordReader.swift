/// Reads the stored record formats. Stored bytes are untrusted (a bad disk, a bug, a wrong key):
/// every read is checked against what remains and fails with `corrupt_record`; counts are checked
/// against the module's limits by the callers before anything is allocated for them.
struct RecordReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool {
        position == bytes.count
    }

    mutating func uint8() throws(SignalError) -> UInt8 {
        let byte = try take(1)
        return byte[byte.startIndex]
    }

    mutating func uint16() throws(SignalError) -> UInt16 {
        try take(2).reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func uint32() throws(SignalError) -> UInt32 {
        try take(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func key() throws(SignalError) -> [UInt8] {
        Array(try take(32))
    }

    /// Fails unless every byte was read: trailing bytes mean the record is not what it claims.
    func finish() throws(SignalError) {
        guard isAtEnd else {
            throw SignalError(.corruptRecord)
        }
    }

    private mutating func take(_ count: Int) throws(SignalError) -> ArraySlice<UInt8> {
        guard bytes.count - position >= count else {
            throw SignalError(.corruptRecord)
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }
}
