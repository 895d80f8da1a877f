import Signal

/// Everything one stanza changed, committed in one transaction before any answer goes out
/// (messaging.md §10: "decrypt → commit → receipt").
public struct ProtocolChanges: Sendable {
    /// A stored remote identity that was replaced or forgotten, as the store records it: fingerprints
    /// (`IdentityFingerprint`), never keys. Trusting a first identity is not a change.
    public struct IdentityChange: Hashable, Sendable {
        public var address: SignalAddress
        public var previousFingerprint: String
        /// Nil when the identity was forgotten (an `encrypt` notification with `<identity/>`).
        public var newFingerprint: String?

        public init(address: SignalAddress, previousFingerprint: String, newFingerprint: String?) {
            self.address = address
            self.previousFingerprint = previousFingerprint
            self.newFingerprint = newFingerprint
        }
    }

    /// A LID ↔ phone-number pair learned from the stanza (users, no servers or devices).
    public struct LIDPair: Hashable, Sendable {
        public var phoneNumber: String
        public var lid: String

        public init(phoneNumber: String, lid: String) {
            self.phoneNumber = phoneNumber
            self.lid = lid
        }
    }

    public var sessions: [SignalAddress: [UInt8]] = [:]
    public var deletedSessions: Set<SignalAddress> = []
    /// Remote identity keys (32 bytes), trusted on first use.
    public var identities: [SignalAddress: [UInt8]] = [:]
    public var deletedIdentities: Set<SignalAddress> = []
    public var identityChanges: [IdentityChange] = []
    public var senderKeys: [SenderKeyID: [UInt8]] = [:]
    public var deletedSenderKeys: Set<SenderKeyID> = []
    /// One-time prekeys a new session used: each may be consumed once, ever.
    public var consumedPreKeys: Set<UInt32> = []
    /// Stored as given, replacing an older LID for the same phone number.
    public var lidMappings: [LIDPair] = []
    public var message: InboxMessage?
    /// Count one more retry-receipt prekey (`CommitReceipt.retryPreKeySequence`).
    public var reservesRetryPreKey = false
    /// Messages we sent that moved on (acks, receipts, failures).
    public var outboundStatuses: [OutboundStatusChange] = []
    /// The WhatsApp id of our message whose stanza is about to be written: its attempt is counted
    /// (and logged with the lease that fenced it) with the sessions its encryption advanced.
    public var sendingMessage: String?
    /// The local address (`ip:port`) of the connection that stanza is written on, for the attempt's log.
    public var sendingConnection: String?
    /// Cached device lists to drop (user JIDs as strings): a `devices` or `account_sync` notification
    /// changed them. Dropping instead of patching by `device_hash` costs one usync on the next send.
    public var forgottenDeviceLists: Set<String> = []
    /// Groups (JID strings) whose list of devices holding our sender key is cleared: our sender key for
    /// the group was created or replaced in this commit, so nobody holds it yet.
    public var resetSenderKeyHolders: Set<String> = []
    /// Devices (JID strings) per group (JID string) that were sent our current sender key and whose
    /// stanza the server accepted; applied after `resetSenderKeyHolders`.
    public var senderKeyHolders: [String: Set<String>] = [:]

    public init() {}

    public var isEmpty: Bool {
        sessions.isEmpty && deletedSessions.isEmpty && identities.isEmpty && deletedIdentities.isEmpty
            && identityChanges.isEmpty && senderKeys.isEmpty && deletedSenderKeys.isEmpty && consumedPreKeys.isEmpty
            && lidMappings.isEmpty && message == nil && !reservesRetryPreKey && outboundStatuses.isEmpty && sendingMessage == nil
            && forgottenDeviceLists.isEmpty && resetSenderKeyHolders.isEmpty && senderKeyHolders.isEmpty
    }
}
