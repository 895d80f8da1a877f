import Foundation

/// A query parameter in PostgreSQL's binary wire format, with the type the server should read.
public struct PostgresValue: Sendable, Hashable {
    /// The PostgreSQL type OID the parameter is sent as.
    public var oid: UInt32
    /// The binary representation, or nil for SQL NULL.
    public var bytes: [UInt8]?

    public init(oid: UInt32, bytes: [UInt8]?) {
        self.oid = oid
        self.bytes = bytes
    }

    public static let null = PostgresValue(oid: 0, bytes: nil)
}

/// PostgreSQL type OIDs this client encodes and decodes.
public enum PostgresOID {
    public static let bool: UInt32 = 16
    public static let bytea: UInt32 = 17
    public static let name: UInt32 = 19
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let oid: UInt32 = 26
    public static let json: UInt32 = 114
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let unknown: UInt32 = 705
    public static let bpchar: UInt32 = 1042
    public static let varchar: UInt32 = 1043
    public static let timestamp: UInt32 = 1114
    public static let timestamptz: UInt32 = 1184
    public static let uuid: UInt32 = 2950
    public static let jsonb: UInt32 = 3802
    public static let byteaArray: UInt32 = 1001
    public static let textArray: UInt32 = 1009
    public static let int8Array: UInt32 = 1016
    public static let uuidArray: UInt32 = 2951
}

/// A Swift value that can be bound as a query parameter.
public protocol PostgresEncodable: Sendable {
    var postgresValue: PostgresValue { get }
}

extension PostgresValue: PostgresEncodable {
    public var postgresValue: PostgresValue { self }
}

extension Bool: PostgresEncodable {
    public var postgresValue: PostgresValue { PostgresValue(oid: PostgresOID.bool, bytes: [self ? 1 : 0]) }
}

extension Int: PostgresEncodable {
    public var postgresValue: PostgresValue { Int64(self).postgresValue }
}

extension Int64: PostgresEncodable {
    public var postgresValue: PostgresValue { PostgresValue(oid: PostgresOID.int8, bytes: bigEndianBytes(self)) }
}

extension Int32: PostgresEncodable {
    public var postgresValue: PostgresValue { PostgresValue(oid: PostgresOID.int4, bytes: bigEndianBytes(self)) }
}

extension Int16: PostgresEncodable {
    public var postgresValue: PostgresValue { PostgresValue(oid: PostgresOID.int2, bytes: bigEndianBytes(self)) }
}

extension Double: PostgresEncodable {
    public var postgresValue: PostgresValue {
        PostgresValue(oid: PostgresOID.float8, bytes: bigEndianBytes(bitPattern))
    }
}

extension String: PostgresEncodable {
    public var postgresValue: PostgresValue { PostgresValue(oid: PostgresOID.text, bytes: Array(utf8)) }
}

extension Array: PostgresEncodable where Element == UInt8 {
    public var postgresValue: PostgresValue { PostgresValue(oid: PostgresOID.bytea, bytes: self) }
}

extension UUID: PostgresEncodable {
    public var postgresValue: PostgresValue {
        let u = uuid
        return PostgresValue(
            oid: PostgresOID.uuid,
            bytes: [u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
        )
    }
}

extension Date: PostgresEncodable {
    public var postgresValue: PostgresValue {
        let micros = Int64(((timeIntervalSince1970 - postgresEpochOffset) * 1_000_000).rounded())
        return PostgresValue(oid: PostgresOID.timestamptz, bytes: bigEndianBytes(micros))
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresValue: PostgresValue {
        switch self {
        case .some(let value): value.postgresValue
        case .none: .null
        }
    }
}

/// Seconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01 UTC.
let postgresEpochOffset: TimeInterval = 946_684_800

@inline(__always)
func bigEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}
