import Foundation
import Hummingbird

extension Request {
    /// Decodes a JSON body of at most `APIContext.bodyLimit` bytes; another media type is 415.
    func decodeJSON<T: Decodable>(_ type: T.Type) async throws -> T {
        let mediaType = headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "Send the body as application/json")
        }
        if let length = headers[.contentLength].flatMap(Int.init), length > APIContext.bodyLimit {
            throw HTTPError(.contentTooLarge)
        }
        let buffer = try await body.collect(upTo: APIContext.bodyLimit)
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    /// A query parameter, or nil when absent or empty.
    func query(_ name: String) -> String? {
        uri.queryParameters[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// Free text the database stores: lengths count code points (as PostgreSQL and JSON Schema
/// do), and NUL cannot be stored.
enum APIText {
    static func fits(_ text: String, _ range: ClosedRange<Int>) -> Bool {
        range.contains(text.unicodeScalars.count) && !text.unicodeScalars.contains("\0")
    }
}
