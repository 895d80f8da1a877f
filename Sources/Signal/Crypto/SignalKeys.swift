import WAWire

/// Constants of libsignal's v3 wire format and the key operations the ratchet and sender keys share.
enum SignalKeys {
    /// The type byte of a serialized Curve25519 public key (libsignal's `DJB_TYPE`).
    static let djbType: UInt8 = 0x05
    /// `(messageVersion << 4) | currentVersion` with both 3; receivers check the high nibble only.
    static let versionByte: UInt8 = 0x33
    static let version: UInt8 = 3

    /// Checks the first byte of a versioned message: 3 in the high nibble, as libsignal does.
    static func checkVersion(_ bytes: [UInt8]) throws(SignalError) {
        guard let first = bytes.first else {
            throw SignalError(.invalidMessage)
        }
        guard first >> 4 == version else {
            throw SignalError(.unsupportedVersion)
        }
    }

    /// X25519 of our private key (32 bytes) with their public key (32 bytes).
    static func agreement(_ ours: Curve25519KeyPair, _ theirs: [UInt8]) throws(SignalError) -> [UInt8] {
        do {
            return try ours.sharedSecret(with: theirs)
        } catch {
            throw SignalError(.invalidKey)
        }
    }

    /// A key pair rebuilt from stored private bytes (clamped already, so clamping changes nothing).
    static func keyPair(privateKey: [UInt8]) throws(SignalError) -> Curve25519KeyPair {
        do {
            return try Curve25519KeyPair(privateKey: privateKey)
        } catch {
            throw SignalError(.invalidKey)
        }
    }

    /// `count` bytes from `generator`, whole little-endian words at a time (how the vectors replay).
    static func randomBytes(_ count: Int, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            withUnsafeBytes(of: generator.next().littleEndian) { bytes.append(contentsOf: $0) }
        }
        return Array(bytes.prefix(count))
    }

    /// Compares two MACs or keys without an early exit on the first differing byte.
    static func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else {
            return false
        }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) {
            difference |= x ^ y
        }
        return difference == 0
    }
}
