import WAWire

/// A symmetric chain: the pairwise sending and receiving chains and a sender key's chain alike.
///
/// seed = HMAC(key, 0x01) gives the message keys of `index`; HMAC(key, 0x02) is the next chain key.
struct ChainKey: Sendable, Equatable {
    var key: [UInt8]
    /// The counter (pairwise) or iteration (sender keys) whose message key this chain gives next.
    var index: UInt32

    var messageKeySeed: [UInt8] {
        HMACSHA256.authenticationCode(for: [0x01], key: key)
    }

    /// The following chain key. Callers keep `index` below `UInt32.max` (messages and records are
    /// refused before a chain could reach it).
    var next: ChainKey {
        ChainKey(key: HMACSHA256.authenticationCode(for: [0x02], key: key), index: index + 1)
    }
}
