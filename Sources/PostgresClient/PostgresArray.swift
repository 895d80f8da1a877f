import Foundation

/// A one-dimensional PostgreSQL array (`uuid[]`, `text[]`, `int8[]`, `bytea[]`) in binary
/// format, as a parameter or a result column: `WHERE id = ANY($1)` with `PostgresArray(ids)`.
/// Elements are never NULL: decoding an array that holds one throws `decoding`.
public struct PostgresArray<Element: PostgresArrayElement>: Sendable {
    public var elements: [Element]

    public init(_ elements: [Element]) {
        self.elements = elements
    }
}

extension PostgresArray: Equatable where Element: Equatable {}
extension PostgresArray: Hashable where Element: Hashable {}

/// A type `PostgresArray` can hold: its own and its array type's OIDs.
public protocol PostgresArrayElement: PostgresEncodable, PostgresDecodable {
    /// The element type's OID, written into every array (also an empty one).
    static var postgresElementOID: UInt32 { get }
    /// The array type's OID (`uuid[]` is 2951).
    static var postgresArrayOID: UInt32 { get }
}

extension UUID: PostgresArrayElement {
    public static var postgresElementOID: UInt32 { PostgresOID.uuid }
    public static var postgresArrayOID: UInt32 { PostgresOID.uuidArray }
}

extension String: PostgresArrayElement {
    public static var postgresElementOID: UInt32 { PostgresOID.text }
    public static var postgresArrayOID: UInt32 { PostgresOID.textArray }
}

extension Int64: PostgresArrayElement {
    public static var postgresElementOID: UInt32 { PostgresOID.int8 }
    public static var postgresArrayOID: UInt32 { PostgresOID.int8Array }
}

extension Int: PostgresArrayElement {
    public static var postgresElementOID: UInt32 { PostgresOID.int8 }
    public static var postgresArrayOID: UInt32 { PostgresOID.int8Array }
}

extension Array: PostgresArrayElement where Element == UInt8 {
    public static var postgresElementOID: UInt32 { PostgresOID.bytea }
    public static var postgresArrayOID: UInt32 { PostgresOID.byteaArray }
}

extension PostgresArray: PostgresEncodable {
    /// array_recv's format: dimensions, a has-NULLs flag, the element OID, then per dimension its
    /// length and lower bound, then each element as a length and its bytes. An empty array has
    /// no dimensions.
    public var postgresValue: PostgresValue {
        var bytes: [UInt8] = []
        bytes += bigEndianBytes(Int32(elements.isEmpty ? 0 : 1))
        bytes += bigEndianBytes(Int32(0))
        bytes += bigEndianBytes(Element.postgresElementOID)
        if !elements.isEmpty {
            bytes += bigEndianBytes(Int32(elements.count))
            bytes += bigEndianBytes(Int32(1))
            for element in elements {
                let value = element.postgresValue.bytes ?? []
                bytes += bigEndianBytes(Int32(value.count))
                bytes += value
            }
        }
        return PostgresValue(oid: Element.postgresArrayOID, bytes: bytes)
    }
}

extension PostgresArray: PostgresDecodable {
    public init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws {
        func failure(_ problem: String) -> PostgresError {
            PostgresError(.decoding, detail: "column \(column) of type oid \(oid) cannot be read as an array of \(Element.self): \(problem)")
        }
        guard oid == Element.postgresArrayOID else { throw failure("not its array type") }
        var reader = ArrayReader(bytes: bytes)
        guard let dimensions = reader.int32(), reader.int32() != nil, let elementOID = reader.int32().map(UInt32.init(bitPattern:)) else {
            throw failure("truncated header")
        }
        guard elementOID == Element.postgresElementOID else { throw failure("element type oid \(elementOID)") }
        var elements: [Element] = []
        switch dimensions {
        case 0:
            break
        case 1:
            guard let count = reader.int32(), count >= 0, reader.int32() != nil else { throw failure("bad dimension") }
            // Each element takes at least its 4-byte length: never reserve more than the bytes allow.
            elements.reserveCapacity(min(Int(count), reader.remaining / 4))
            for _ in 0..<count {
                guard let length = reader.int32() else { throw failure("truncated element") }
                guard length >= 0 else { throw failure("a NULL element") }
                guard let element = reader.take(Int(length)) else { throw failure("truncated element") }
                elements.append(try Element(postgresBytes: element, oid: elementOID, column: column))
            }
        default:
            throw failure("\(dimensions) dimensions (only one is supported)")
        }
        guard reader.remaining == 0 else { throw failure("bytes after the last element") }
        self.elements = elements
    }
}

/// Bounds-checked big-endian reads over a result cell.
private struct ArrayReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    var remaining: Int { bytes.count - offset }

    mutating func int32() -> Int32? {
        guard let slice = take(4) else { return nil }
        return Int32(bitPattern: slice.reduce(UInt32(0)) { ($0 << 8) | UInt32($1) })
    }

    mutating func take(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, count <= remaining else { return nil }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }
}
