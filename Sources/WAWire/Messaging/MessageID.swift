import Crypto

/// Message ids for what we send: `3EB0` + the first 9 bytes of SHA-256(BE64 Unix seconds ‖ own phone
/// number ‖ `@c.us` ‖ 16 random bytes), uppercase hex, 22 characters (whatsmeow `GenerateMessageID`,
/// messaging.md §1.4). The server cannot check the hash; ids only need to be unique per sender.
public enum MessageID {
    public static let prefix = "3EB0"

    /// A fresh id; `ownUser` is our phone number's user part (left out when not known yet).
    public static func generate(unixSeconds: Int64, ownUser: String?, using rng: inout some RandomNumberGenerator) -> String {
        var input = (0..<8).reversed().map { UInt8(truncatingIfNeeded: unixSeconds >> (8 * $0)) }
        if let ownUser, !ownUser.isEmpty {
            input += Array(ownUser.utf8) + Array("@c.us".utf8)
        }
        input += rng.bytes(16)
        let hex = Array("0123456789ABCDEF".utf8)
        var id = prefix
        for byte in SHA256.hash(data: input).prefix(9) {
            id.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
            id.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0F)]))
        }
        return id
    }
}
