/// Where one device's Signal state and inbox live, for the receive pipeline (`InboundPipeline`): the
/// gateway's is PostgreSQL (sealed, fenced by the device's lease), `pairgate link`'s a file.
///
/// The pipeline asks for exactly what a stanza needs (`load`, possibly twice: a stored LID decides which
/// session to read) and writes everything the stanza changed in one `commit`. A commit is all or nothing:
/// when it throws, nothing was written and the pipeline sends no answer, so the server delivers the
/// stanza again later. An owner that lost its lease gets `LeaseLost`-like errors from both (the store's
/// own type); the pipeline passes them through.
public protocol ProtocolStore: Sendable {
    /// What is stored for `request`: absent entries are simply missing from the answer.
    func load(_ request: StateRequest) async throws -> ProtocolState
    /// Applies `changes` atomically: deletions, then writes, the consumed prekeys (a prekey already
    /// recorded as consumed fails the commit), the LID mappings, the identity-change records and the
    /// inbox row (a row already stored under the same `InboxKey` is kept, not duplicated).
    func commit(_ changes: ProtocolChanges) async throws -> CommitReceipt
}

/// What a commit hands back.
public struct CommitReceipt: Hashable, Sendable {
    /// With `ProtocolChanges.reservesRetryPreKey`: how many retry-receipt prekeys this device had
    /// reserved before this one (0 for the first), counted by the store so that a reserved id is
    /// never given out twice. `OneTimePreKeys.retryID(sequence:)` turns it into the key's id.
    public var retryPreKeySequence: UInt64?

    public init(retryPreKeySequence: UInt64? = nil) {
        self.retryPreKeySequence = retryPreKeySequence
    }
}
