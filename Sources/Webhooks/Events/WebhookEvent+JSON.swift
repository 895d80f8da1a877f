import Foundation

extension WebhookEvent {
    /// The request body: compact JSON, keys sorted at every level, `/` unescaped, times as in
    /// `EventTime`. The same event always gives the same bytes; the outbox stores them once and
    /// every attempt and replay sends them unchanged, so signatures cover exactly what was stored.
    public func jsonBody() throws -> [UInt8] {
        Array(try Self.encoder.encode(self))
    }

    /// Reads a body `jsonBody()` wrote (receivers, tests, replays).
    public init(jsonBody: some Collection<UInt8>) throws {
        self = try Self.decoder.decode(WebhookEvent.self, from: Data(jsonBody))
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(EventTime.format(date))
        }
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            guard let date = EventTime.parse(try container.decode(String.self)) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a UTC time with milliseconds")
            }
            return date
        }
        return decoder
    }
}
