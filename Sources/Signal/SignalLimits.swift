/// Every bound the module keeps, in one place (docs/signal.md lists them with their reasons).
enum SignalLimits {
    /// A message may be at most this many keys ahead of its chain (libsignal: 2,000); beyond is `too_far_ahead`.
    static let maximumForwardJump: UInt32 = 2000
    /// Receiving chains kept per session state (libsignal and python-axolotl: 5), oldest dropped.
    static let maximumReceivingChains = 5
    /// Archived states kept per session record (libsignal: 40), oldest dropped.
    static let maximumPreviousStates = 40
    /// Skipped message keys kept per session record, over all its states and chains, oldest dropped.
    /// libsignal keeps 2,000 per chain; one bound per record keeps a record under ~100 KiB.
    static let maximumStoredMessageKeys = 2000
    /// Sender-key states kept per sender-key record (libsignal: 5), oldest dropped.
    static let maximumSenderKeyStates = 5
    /// Skipped sender message keys kept per sender-key record, over all its states, oldest dropped.
    static let maximumStoredSenderMessageKeys = 2000
}
