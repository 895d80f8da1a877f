/// whatsmeow's token tables: strings the binary form writes as one byte or as a dictionary tag and index.
///
/// The tables themselves are generated (NodeTokens+Tables.swift, ops/gen-tokens.sh).
public enum NodeTokens {
    /// The table version the connection header announces (its fourth byte).
    public static let dictionaryVersion: UInt8 = 3

    /// The first tag byte of the four double-byte dictionaries (0xEC–0xEF).
    static let dictionary0: UInt8 = 0xEC

    /// String → code, built once: a single-byte token is its byte (1–235); a double-byte token is
    /// `(0xEC + dictionary) << 8 | index`, so any code above 0xFF is written as two bytes.
    static let codes: [String: UInt16] = {
        var codes = [String: UInt16](minimumCapacity: singleByte.count + doubleByte.count * 256)
        for (index, token) in singleByte.enumerated() where !token.isEmpty {
            codes[token] = UInt16(index)
        }
        for (dictionary, tokens) in doubleByte.enumerated() {
            for (index, token) in tokens.enumerated() {
                codes[token] = UInt16(Int(dictionary0) + dictionary) << 8 | UInt16(index)
            }
        }
        return codes
    }()
}
