/// A message key kept for a message that has not arrived yet: its index and its seed.
///
/// libsignal stores the derived keys; the seed is 36 bytes instead of 84 and derives the same keys.
struct StoredMessageKey: Sendable, Equatable {
    var index: UInt32
    var seed: [UInt8]
}
