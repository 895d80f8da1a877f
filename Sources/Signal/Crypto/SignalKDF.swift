import WAWire

/// The HKDF-SHA-256 uses of libsignal v3 (RFC 5869; the expand counter starts at 1).
enum SignalKDF {
    private static let zeroSalt = [UInt8](repeating: 0, count: 32)

    /// HKDF with `salt` (32 zero bytes when nil), `info` and `count` ≤ 255·32 output bytes.
    static func derive(_ inputKeyMaterial: [UInt8], salt: [UInt8]? = nil, info: String, count: Int) -> [UInt8] {
        let pseudoRandomKey = HMACSHA256.authenticationCode(for: inputKeyMaterial, key: salt ?? zeroSalt)
        let keyed = HMACSHA256(key: pseudoRandomKey)
        let info = Array(info.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(count + 32)
        var block: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < count {
            var hmac = keyed
            hmac.update(block)
            hmac.update(info)
            hmac.update([counter])
            block = hmac.finalize()
            output += block
            counter += 1
        }
        return Array(output.prefix(count))
    }

    /// X3DH's secret: HKDF(0xFF×32 ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4], "WhisperText") → root key, chain key.
    static func x3dh(_ agreements: [[UInt8]]) -> (rootKey: [UInt8], chainKey: [UInt8]) {
        let secret = [UInt8](repeating: 0xFF, count: 32) + agreements.joined()
        let derived = derive(secret, info: "WhisperText", count: 64)
        return (Array(derived[0..<32]), Array(derived[32..<64]))
    }

    /// One root-chain step: HKDF(DH(ours, theirs), salt = root key, "WhisperRatchet") → root key, chain key.
    static func rootStep(
        rootKey: [UInt8],
        ours: Curve25519KeyPair,
        theirs: [UInt8]
    ) throws(SignalError) -> (rootKey: [UInt8], chainKey: [UInt8]) {
        let secret = try SignalKeys.agreement(ours, theirs)
        let derived = derive(secret, salt: rootKey, info: "WhisperRatchet", count: 64)
        return (Array(derived[0..<32]), Array(derived[32..<64]))
    }
}
