import Crypto

/// Signal's "curve25519 signatures": Ed25519 signatures checked against X25519 (Montgomery) keys.
///
/// Verification follows libsignal (the sign of the Edwards key travels in signature bit 511), so it
/// accepts both libsignal-style signatures and XEdDSA ones. Signing is XEdDSA as in Signal's
/// specification (sign bit always 0), which both kinds of verifiers accept.
///
/// Signing takes the same time whatever the private key and nonce (see `xeddsaSign`); verification
/// handles only public values and is not constant time.
public enum CurveSignature {
    /// Whether `signature` (64 bytes) signs `message` under the Montgomery `publicKey` (32 bytes).
    public static func isValid(_ signature: [UInt8], for message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, publicKey.count == 32, hasCanonicalS(signature) else {
            return false
        }
        var montgomery = publicKey
        montgomery[31] &= 0x7F
        // y = (u − 1)/(u + 1); u = −1 has no inverse and maps to y = 0, as in libsignal.
        let u = FieldElement(littleEndianBytes: montgomery)
        let y = (u - .one) * (u + .one).inverted()
        var edwardsKey = y.littleEndianBytes
        edwardsKey[31] |= signature[63] & 0x80
        var ed25519Signature = signature
        ed25519Signature[63] &= 0x7F
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: edwardsKey) else {
            return false
        }
        return key.isValidSignature(ed25519Signature, for: message)
    }

    /// Whether s (bytes 32–63, bit 511 cleared) is below the group order L. Ed25519 verification
    /// (RFC 8032 §5.1.7, and swift-crypto) rejects s ≥ L anyway; checking it first skips the field
    /// inversion for most malformed signatures.
    private static func hasCanonicalS(_ signature: [UInt8]) -> Bool {
        let order: [UInt8] = [
            0xED, 0xD3, 0xF5, 0x5C, 0x1A, 0x63, 0x12, 0x58, 0xD6, 0x9C, 0xF7, 0xA2, 0xDE, 0xF9, 0xDE, 0x14,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
        ]
        for index in (0..<32).reversed() {
            let byte = index == 31 ? signature[63] & 0x7F : signature[32 + index]
            if byte != order[index] {
                return byte < order[index]
            }
        }
        return false
    }

    /// Signs `message` with the X25519 `privateKey` (32 bytes; clamped here) and fresh randomness.
    public static func sign(_ message: [UInt8], privateKey: [UInt8]) -> [UInt8] {
        precondition(privateKey.count == 32, "a Curve25519 private key is 32 bytes")
        var generator = SystemRandomNumberGenerator()
        var randomness: [UInt8] = []
        randomness.reserveCapacity(64)
        for _ in 0..<8 {
            withUnsafeBytes(of: generator.next().littleEndian) { randomness.append(contentsOf: $0) }
        }
        return xeddsaSign(message, privateKey: privateKey, randomness: randomness)
    }

    /// Signs with caller-supplied `randomness` (64 bytes), which makes signatures reproducible.
    public static func sign(_ message: [UInt8], privateKey: [UInt8], randomness: [UInt8]) throws -> [UInt8] {
        guard privateKey.count == 32 else {
            throw CurveError(.invalidKeyLength)
        }
        guard randomness.count == 64 else {
            throw CurveError(.invalidRandomnessLength)
        }
        return xeddsaSign(message, privateKey: privateKey, randomness: randomness)
    }

    // XEdDSA (Signal, "The XEdDSA and VXEdDSA Signature Schemes", rev. 1). Like the reference
    // implementations (libsignal-protocol-c, libxeddsa), the nonce hash takes the clamped key bytes
    // as they are when no negation is needed, and −k mod L otherwise; s is the same either way,
    // and this makes our signatures byte-identical to theirs. The private scalar and the nonce are
    // secret: both scalar multiplications are constant time and the negation is chosen by masks.
    private static func xeddsaSign(_ message: [UInt8], privateKey: [UInt8], randomness: [UInt8]) -> [UInt8] {
        let k = Curve25519KeyPair.clamped(privateKey)
        var publicKey = EdwardsPoint.base.multiplied(by: k).encoded
        let signBit = publicKey[31] >> 7
        // With a negative x use −k, whose point is −A: same y, sign bit 0.
        let reduced = CurveScalar(reducing: k)
        let negated = reduced.negated()
        let secret = CurveScalar.select(reduced, negated, mask: 0 &- UInt64(signBit))
        let byteMask = 0 &- signBit
        let secretBytes = zip(k, negated.littleEndianBytes).map { kept, flipped in kept ^ (byteMask & (kept ^ flipped)) }
        publicKey[31] &= 0x7F

        var nonceHash = SHA512()
        nonceHash.update(data: [0xFE] + [UInt8](repeating: 0xFF, count: 31))
        nonceHash.update(data: secretBytes)
        nonceHash.update(data: message)
        nonceHash.update(data: randomness)
        let r = CurveScalar(reducing: nonceHash.finalize())
        let commitment = EdwardsPoint.base.multiplied(by: r.littleEndianBytes).encoded

        var challengeHash = SHA512()
        challengeHash.update(data: commitment)
        challengeHash.update(data: publicKey)
        challengeHash.update(data: message)
        let h = CurveScalar(reducing: challengeHash.finalize())
        let s = CurveScalar.multiplyAdd(h, secret, r)
        return commitment + s.littleEndianBytes
    }
}
