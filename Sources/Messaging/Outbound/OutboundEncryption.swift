import Signal
import WAWire

/// What encrypting one send produced: the stanza, and the state it advanced, which must be committed
/// BEFORE the stanza is written (messaging.md §8.1 step 7), so that a resend after a crash never
/// reuses a message key.
public struct OutboundEncryption: Sendable {
    public var stanza: Node
    /// The advanced sessions, the identities trusted from fetched bundles and any identity change.
    public var changes: ProtocolChanges
    /// Every device the stanza was encrypted for, in stanza order.
    public var devices: [JID]
    /// Devices left out because their encryption failed (whatsmeow logs and skips them).
    public var failures: [JID: SignalError.Code]
    /// `DeviceListHash.v2` over every device of both lists, our own included (whatsmeow hashes the
    /// whole fan-out), to compare with the server ack's `phash`.
    public var phash: String
}
