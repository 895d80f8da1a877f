/// The keys of one pairwise message: HKDF(seed, "WhisperMessageKeys", 80) → cipher ‖ MAC ‖ IV.
struct MessageKeys: Sendable, Equatable {
    var cipherKey: [UInt8]
    var macKey: [UInt8]
    var iv: [UInt8]

    init(seed: [UInt8]) {
        let derived = SignalKDF.derive(seed, info: "WhisperMessageKeys", count: 80)
        cipherKey = Array(derived[0..<32])
        macKey = Array(derived[32..<64])
        iv = Array(derived[64..<80])
    }
}

/// The keys of one sender-key message: HKDF(seed, "WhisperGroup", 48) → IV ‖ cipher (IV first).
struct SenderMessageKeys: Sendable, Equatable {
    var iv: [UInt8]
    var cipherKey: [UInt8]

    init(seed: [UInt8]) {
        let derived = SignalKDF.derive(seed, info: "WhisperGroup", count: 48)
        iv = Array(derived[0..<16])
        cipherKey = Array(derived[16..<48])
    }
}
