import Foundation
import Testing

/// pairing.json from the protocol vectors, read once per use.
struct PairingVectors {
    private let root: [String: Any]

    init() throws {
        let url = try #require(Bundle.module.url(forResource: "pairing", withExtension: "json", subdirectory: "Vectors"))
        root = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func string(_ section: String, _ key: String) throws -> String {
        let values = try #require(root[section] as? [String: Any])
        return try #require(values[key] as? String)
    }

    func bytes(_ section: String, _ key: String) throws -> [UInt8] {
        try pairingHex(string(section, key))
    }

    func number(_ section: String, _ key: String) throws -> UInt64 {
        let values = try #require(root[section] as? [String: Any])
        return try #require((values[key] as? NSNumber)?.uint64Value)
    }
}

struct PairingHexError: Error {}

func pairingHex(_ text: String) throws -> [UInt8] {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { throw PairingHexError() }
    return try stride(from: 0, to: digits.count, by: 2).map { index in
        guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
            throw PairingHexError()
        }
        return byte
    }
}

/// Hands out recorded bytes in order (little-endian words), so a protocol vector's "random" inputs replay exactly.
struct PairingReplayRNG: RandomNumberGenerator {
    private var bytes: [UInt8]

    init(_ chunks: [UInt8]...) {
        bytes = chunks.flatMap { $0 }
    }

    mutating func next() -> UInt64 {
        precondition(bytes.count >= 8, "the vector ran out of recorded randomness")
        let word = bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        bytes.removeFirst(8)
        return word
    }
}
