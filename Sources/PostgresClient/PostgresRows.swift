import Foundation

/// One column of a result: its name and PostgreSQL type.
public struct PostgresColumn: Sendable, Hashable {
    public var name: String
    public var oid: UInt32
}

/// A query result copied out of libpq, so it can cross threads and outlive the connection.
public struct PostgresRows: Sendable, RandomAccessCollection {
    public let columns: [PostgresColumn]
    /// Rows affected by INSERT/UPDATE/DELETE (or returned by SELECT).
    public let affectedRows: Int
    // All cell bytes of the result back to back; `cells` holds each cell's range, nil for NULL.
    let storage: [UInt8]
    let cells: [Range<Int>?]

    init(columns: [PostgresColumn], affectedRows: Int, storage: [UInt8], cells: [Range<Int>?]) {
        self.columns = columns
        self.affectedRows = affectedRows
        self.storage = storage
        self.cells = cells
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : cells.count / columns.count }
    public subscript(position: Int) -> PostgresRow { PostgresRow(rows: self, index: position) }

    func columnIndex(named name: String) -> Int? {
        columns.firstIndex { $0.name == name }
    }
}

/// One row of a `PostgresRows`; decode cells by position or by column name.
public struct PostgresRow: Sendable {
    let rows: PostgresRows
    let index: Int

    /// Decodes the cell at `column` (0-based) as `T`; a NULL decodes only into an Optional.
    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T {
        guard column >= 0, column < rows.columns.count else {
            throw PostgresError(.decoding, detail: "column index \(column) out of range")
        }
        let info = rows.columns[column]
        guard let range = rows.cells[index * rows.columns.count + column] else {
            return try T.decodeNull(column: info.name)
        }
        return try rows.storage.withUnsafeBytes { buffer in
            try T(postgresBytes: UnsafeRawBufferPointer(rebasing: buffer[range]), oid: info.oid, column: info.name)
        }
    }

    /// Decodes the cell of the column called `name` as `T`.
    public func decode<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let column = rows.columnIndex(named: name) else {
            throw PostgresError(.decoding, detail: "no column named \(name)")
        }
        return try decode(column, as: type)
    }
}

/// A Swift type that can be read from a binary-format result cell.
public protocol PostgresDecodable: Sendable {
    init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws
    static func decodeNull(column: String) throws -> Self
}

extension PostgresDecodable {
    public static func decodeNull(column: String) throws -> Self {
        throw PostgresError(.decoding, detail: "column \(column) is NULL; decode it as an Optional")
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws {
        self = .some(try Wrapped(postgresBytes: bytes, oid: oid, column: column))
    }
    public static func decodeNull(column: String) throws -> Self { .none }
}

private func mismatch(_ column: String, _ oid: UInt32, _ type: Any.Type) -> PostgresError {
    PostgresError(.decoding, detail: "column \(column) of type oid \(oid) cannot be read as \(type)")
}

@inline(__always)
private func readBigEndian<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, as: T.Type) -> T {
    var value = T.zero
    for byte in bytes { value = (value << 8) | T(byte) }
    return value
}

extension Int64: PostgresDecodable {
    public init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws {
        switch (oid, bytes.count) {
        case (PostgresOID.int8, 8): self = readBigEndian(bytes, as: Int64.self)
        case (PostgresOID.int4, 4), (PostgresOID.oid, 4): self = Int64(readBigEndian(bytes, as: Int32.self))
        case (PostgresOID.int2, 2): self = Int64(readBigEndian(bytes, as: Int16.self))
        default: throw mismatch(column, oid, Int64.self)
        }
    }
}

extension Int: PostgresDecodable {
    public init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws {
        self = Int(try Int64(postgresBytes: bytes, oid: oid, column: column))
    }
}

extension Int32: PostgresDecodable {
    public init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws {
        let wide = try Int64(postgresBytes: bytes, oid: oid, column: column)
        guard let narrow = Int32(exactly: wide) else { throw mismatch(column, oid, Int32.self) }
        self = narrow
    }
}

extension Bool: PostgresDecodable {
    public init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws {
        guard oid == PostgresOID.bool, bytes.count == 1 else { throw mismatch(column, oid, Bool.self) }
        self = bytes[0] != 0
    }
}

extension Double: PostgresDecodable {
    public init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws {
        switch (oid, bytes.count) {
        case (PostgresOID.float8, 8): self = Double(bitPattern: readBigEndian(bytes, as: UInt64.self))
        case (PostgresOID.float4, 4): self = Double(Float(bitPattern: readBigEndian(bytes, as: UInt32.self)))
        default: throw mismatch(column, oid, Double.self)
        }
    }
}

extension String: PostgresDecodable {
    public init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws {
        switch oid {
        case PostgresOID.text, PostgresOID.varchar, PostgresOID.bpchar, PostgresOID.name,
            PostgresOID.unknown, PostgresOID.json:
            self = String(decoding: bytes, as: UTF8.self)
        case PostgresOID.jsonb:
            // Binary jsonb is a version byte (1) followed by the JSON text.
            guard bytes.first == 1 else { throw mismatch(column, oid, String.self) }
            self = String(decoding: UnsafeRawBufferPointer(rebasing: bytes.dropFirst()), as: UTF8.self)
        default:
            throw mismatch(column, oid, String.self)
        }
    }
}

extension Array: PostgresDecodable where Element == UInt8 {
    public init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws {
        guard oid == PostgresOID.bytea else { throw mismatch(column, oid, [UInt8].self) }
        self = Array(bytes)
    }
}

extension UUID: PostgresDecodable {
    public init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws {
        guard oid == PostgresOID.uuid, bytes.count == 16 else { throw mismatch(column, oid, UUID.self) }
        let b = Array(bytes)
        self = UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                           b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}

extension Date: PostgresDecodable {
    public init(postgresBytes bytes: UnsafeRawBufferPointer, oid: UInt32, column: String) throws {
        guard oid == PostgresOID.timestamptz || oid == PostgresOID.timestamp, bytes.count == 8 else {
            throw mismatch(column, oid, Date.self)
        }
        let micros = readBigEndian(bytes, as: Int64.self)
        self = Date(timeIntervalSince1970: postgresEpochOffset + TimeInterval(micros) / 1_000_000)
    }
}
