import Foundation

extension KeyedEncodingContainer {
    /// A UUID as the API writes it: lowercase. Foundation's own encoding is uppercase.
    mutating func encodeLowercased(_ uuid: UUID?, forKey key: Key) throws {
        try encode(uuid.map { $0.uuidString.lowercased() }, forKey: key)
    }
}
