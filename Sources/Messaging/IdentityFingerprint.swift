import Crypto

/// How an identity key appears in change records and logs: the first 16 bytes of its SHA-256 in
/// lowercase hex. Enough to tell keys apart, and no key material.
public enum IdentityFingerprint {
    public static func of(_ key: [UInt8]) -> String {
        SHA256.hash(data: key).prefix(16).map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
        }.joined()
    }
}
