import Signal

/// Stored state as `ProtocolStore.load` answers a `StateRequest`: what exists, keyed as asked. Records are
/// their serialized bytes (`SessionRecord(serialized:)`, `SenderKeyRecord(serialized:)`), identities the
/// 32-byte public keys.
public struct ProtocolState: Sendable {
    public var sessions: [SignalAddress: [UInt8]] = [:]
    public var identities: [SignalAddress: [UInt8]] = [:]
    public var senderKeys: [SenderKeyID: [UInt8]] = [:]
    /// Phone-number user → LID user.
    public var lidByPhoneNumber: [String: String] = [:]
    /// LID user → phone-number user.
    public var phoneNumberByLID: [String: String] = [:]
    public var consumedPreKeys: Set<UInt32> = []
    /// Messages the inbox holds, with their stored type.
    public var inbox: [InboxKey: String] = [:]
    /// Every request this state answers; the pipeline asks only for what is not covered yet.
    public internal(set) var covered = StateRequest()

    public init() {}

    /// Adds the answer to `request`.
    public mutating func merge(_ answer: ProtocolState, answering request: StateRequest) {
        sessions.merge(answer.sessions) { _, new in new }
        identities.merge(answer.identities) { _, new in new }
        senderKeys.merge(answer.senderKeys) { _, new in new }
        lidByPhoneNumber.merge(answer.lidByPhoneNumber) { _, new in new }
        phoneNumberByLID.merge(answer.phoneNumberByLID) { _, new in new }
        consumedPreKeys.formUnion(answer.consumedPreKeys)
        inbox.merge(answer.inbox) { _, new in new }
        covered.formUnion(request)
    }
}
