/// The tag bytes of the binary form that are not tokens (transport.md §5.2).
enum Tag {
    static let listEmpty: UInt8 = 0x00
    static let interopJID: UInt8 = 0xF5
    static let fbJID: UInt8 = 0xF6
    static let adJID: UInt8 = 0xF7
    static let list8: UInt8 = 0xF8
    static let list16: UInt8 = 0xF9
    static let jidPair: UInt8 = 0xFA
    static let hex8: UInt8 = 0xFB
    static let binary8: UInt8 = 0xFC
    static let binary20: UInt8 = 0xFD
    static let binary32: UInt8 = 0xFE
    static let nibble8: UInt8 = 0xFF
}

/// NIBBLE_8 and HEX_8: two characters per byte, at most 127 characters (transport.md §5.5).
enum Packed {
    static let maxLength = 127
    /// The low nibble after the last character of an odd-length string.
    static let padding: UInt8 = 0x0F

    static func isNibble(_ char: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(char) || char == UInt8(ascii: "-") || char == UInt8(ascii: ".")
    }

    static func isHex(_ char: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(char) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(char)
    }

    /// Only called for characters `isNibble` accepted.
    static func nibbleCode(_ char: UInt8) -> UInt8 {
        switch char {
        case UInt8(ascii: "-"): 10
        case UInt8(ascii: "."): 11
        default: char &- UInt8(ascii: "0")
        }
    }

    /// Only called for characters `isHex` accepted.
    static func hexCode(_ char: UInt8) -> UInt8 {
        char >= UInt8(ascii: "A") ? char &- UInt8(ascii: "A") &+ 10 : char &- UInt8(ascii: "0")
    }

    /// NIBBLE_8 code → character; 15 is the padding and reads as NUL (whatsmeow), 12–14 are invalid.
    static let nibbleCharacters: [UInt8?] = Array("0123456789-.".utf8) + [nil, nil, nil, 0]

    static let hexCharacters: [UInt8] = Array("0123456789ABCDEF".utf8)
}
