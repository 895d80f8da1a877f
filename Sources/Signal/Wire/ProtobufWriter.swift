/// Writes proto2 fields in the order it is called, which the message types call in ascending
/// field-number order, as libsignal's encoders do (the vectors depend on it).
struct ProtobufWriter {
    private(set) var bytes: [UInt8]

    init(prefix: [UInt8] = []) {
        bytes = prefix
    }

    mutating func uint32(_ number: UInt64, _ value: UInt32) {
        varint(number << 3)
        varint(UInt64(value))
    }

    mutating func bytes(_ number: UInt64, _ value: some Collection<UInt8>) {
        varint(number << 3 | 2)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// A public key in its serialized form, `0x05` and the 32 bytes.
    mutating func publicKey(_ number: UInt64, _ key: [UInt8]) {
        bytes(number, [SignalKeys.djbType] + key)
    }

    private mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}
