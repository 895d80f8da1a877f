import Foundation
import Hummingbird

extension Request {
    /// Decodes a JSON body of at most `limit` bytes; another media type is 415.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int = APIContext.bodyLimit) async throws -> T {
        let mediaType = headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" else {
            throw APIError(.unsupportedMediaType, .unsupportedMediaType, "Send the body as application/json")
        }
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw HTTPError(.contentTooLarge)
        }
        let buffer = try await body.collect(upTo: limit)
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    /// A query parameter as sent (an empty value is a value, and is validated like any other).
    func query(_ name: String) -> String? {
        uri.queryParameters[Substring(name)].map(String.init)
    }
}

/// Free text the database stores: lengths count code points (as PostgreSQL and JSON Schema
/// do), and NUL cannot be stored.
enum APIText {
    static func fits(_ text: String, _ range: ClosedRange<Int>) -> Bool {
        range.contains(text.unicodeScalars.count) && !text.unicodeScalars.contains("\0")
    }
}

extension KeyedDecodingContainer {
    /// An optional field: absent is nil, but an explicit null is refused (no input is nullable).
    func optional<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key) else { return nil }
        if try decodeNil(forKey: key) {
            throw DecodingError.valueNotFound(T.self, .init(codingPath: codingPath + [key], debugDescription: "null is not allowed; leave the field out"))
        }
        return try decode(T.self, forKey: key)
    }
}
