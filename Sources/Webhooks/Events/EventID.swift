import Foundation

/// An event's id: a UUIDv7 (RFC 9562: 48 bits of Unix milliseconds, then 74 random bits) written
/// as a TypeID, `evt_` and 26 characters of lowercase Crockford base32, e.g.
/// `evt_01h455vb4pex5vsknk084sn02q`. Any instance mints one without coordination, it sorts by
/// creation time to the millisecond, it is stored as a plain `uuid`, and it never contains a full
/// stop (it is the `webhook-id` that is signed).
public struct EventID: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public static let prefix = "evt_"
    private static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)

    public let uuid: UUID

    public init(uuid: UUID) {
        self.uuid = uuid
    }

    /// A new UUIDv7 for an event that happened at `now`.
    public static func generate(now: Date, using random: inout some RandomNumberGenerator) -> EventID {
        let milliseconds = UInt64(max(0, EventTime.milliseconds(now)))
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index))) }
        let high = random.next() as UInt64, low = random.next() as UInt64
        for index in 6..<16 {
            bytes[index] = UInt8(truncatingIfNeeded: (index < 8 ? high >> (8 * (index - 6)) : low >> (8 * (index - 8))))
        }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)  // version 7
        bytes[8] = 0x80 | (bytes[8] & 0x3F)  // variant 10
        return EventID(uuid: UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        )))
    }

    /// The smallest id minted at `date`'s millisecond: every event id of an earlier millisecond
    /// sorts below it, every later one above (retention deletes by id).
    public static func lowerBound(at date: Date) -> EventID {
        let milliseconds = UInt64(max(0, EventTime.milliseconds(date)))
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index))) }
        return EventID(uuid: UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        )))
    }

    /// Parses `evt_` and 26 base32 characters (lowercase, first one 0–7); nil otherwise.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count == Self.prefix.utf8.count + 26, text.hasPrefix(Self.prefix) else { return nil }
        var value: (high: UInt64, low: UInt64) = (0, 0)
        for (index, character) in utf8.dropFirst(Self.prefix.utf8.count).enumerated() {
            guard let digit = Self.alphabet.firstIndex(of: character) else { return nil }
            // The first character holds the top 3 of 130 bits; 8 and above would overflow 128.
            if index == 0, digit > 7 { return nil }
            value = (value.high << 5 | value.low >> 59, value.low << 5 | UInt64(digit))
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 {
            bytes[index] = UInt8(truncatingIfNeeded: value.high >> (8 * (7 - index)))
            bytes[index + 8] = UInt8(truncatingIfNeeded: value.low >> (8 * (7 - index)))
        }
        uuid = UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        ))
    }

    /// `evt_` and the 26-character base32 of the 128 bits (two leading zero bits).
    public var description: String {
        let bytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
        let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        var characters = [UInt8](repeating: 0, count: 26)
        for index in 0..<26 {
            let shift = 125 - 5 * index  // bit offset of this character's lowest bit, from the right
            let digit: UInt64
            if shift >= 64 {
                digit = high >> (shift - 64)
            } else if shift > 59 {
                digit = high << (64 - shift) | low >> shift
            } else {
                digit = low >> shift
            }
            characters[index] = Self.alphabet[Int(digit & 0x1F)]
        }
        return Self.prefix + String(decoding: characters, as: UTF8.self)
    }

    /// When the id was minted, to the millisecond.
    public var date: Date {
        let bytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
        let milliseconds = bytes[0..<6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    public static func < (lhs: EventID, rhs: EventID) -> Bool {
        withUnsafeBytes(of: lhs.uuid.uuid) { left in
            withUnsafeBytes(of: rhs.uuid.uuid) { right in left.lexicographicallyPrecedes(right) }
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = EventID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an evt_ TypeID")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
