/// A proto2 reader for the four small Signal messages: fields in any order, unknown fields skipped,
/// a repeated scalar keeps its last value (as protobuf parsers do). Lengths are checked against the
/// bytes that remain before anything is sliced, so nothing is allocated beyond the input.
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed
    }

    private let bytes: ArraySlice<UInt8>
    private var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    /// The next field, or nil at the end; groups (wire types 3 and 4) and field number 0 are refused.
    mutating func next() throws(SignalError) -> (number: UInt64, value: Value)? {
        guard position < bytes.endIndex else {
            return nil
        }
        let key = try varint()
        let number = key >> 3
        guard number > 0, number <= 0x1FFF_FFFF else {
            throw SignalError(.invalidMessage)
        }
        switch key & 7 {
        case 0:
            return (number, .varint(try varint()))
        case 1:
            try skip(8)
            return (number, .fixed)
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - position) else {
                throw SignalError(.invalidMessage)
            }
            let start = position
            position += Int(length)
            return (number, .bytes(bytes[start..<position]))
        case 5:
            try skip(4)
            return (number, .fixed)
        default:
            throw SignalError(.invalidMessage)
        }
    }

    private mutating func skip(_ count: Int) throws(SignalError) {
        guard bytes.endIndex - position >= count else {
            throw SignalError(.invalidMessage)
        }
        position += count
    }

    /// At most ten bytes, the tenth carrying only bit 63, as protobuf allows.
    private mutating func varint() throws(SignalError) -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 70, by: 7) {
            guard position < bytes.endIndex else {
                throw SignalError(.invalidMessage)
            }
            let byte = bytes[position]
            position += 1
            if shift == 63, byte > 1 {
                throw SignalError(.invalidMessage)
            }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                return value
            }
        }
        throw SignalError(.invalidMessage)
    }
}

extension ProtobufReader.Value {
    /// A `uint32` field; a value that does not fit is refused rather than truncated.
    func uint32() throws(SignalError) -> UInt32 {
        guard case .varint(let value) = self, let narrow = UInt32(exactly: value) else {
            throw SignalError(.invalidMessage)
        }
        return narrow
    }

    func bytes() throws(SignalError) -> ArraySlice<UInt8> {
        guard case .bytes(let value) = self else {
            throw SignalError(.invalidMessage)
        }
        return value
    }

    /// A serialized public key: `0x05` and 32 bytes, returned without the type byte.
    func publicKey() throws(SignalError) -> [UInt8] {
        let value = try bytes()
        guard value.count == 33, value.first == SignalKeys.djbType else {
            throw SignalError(.invalidKey)
        }
        return Array(value.dropFirst())
    }
}
