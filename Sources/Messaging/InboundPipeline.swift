import WAWire

/// The receive path for one device, shared by the gateway's pool and `pairgate link`: one stanza in,
/// the answers to send out, with everything it changed committed in between.
///
/// read → load what the stanza needs (`ProtocolStore.load`) → decide (`InboundProcessor`, pure) →
/// one `ProtocolStore.commit` → the answers, built now because a retry receipt's prekey was reserved
/// by the commit. The caller sends the answers in order only after `receive` returns; when it throws
/// (a load or commit failed), nothing may be sent: the server delivers the stanza again later.
/// Stanzas of one connection must go through one at a time, in arrival order.
public struct InboundPipeline: Sendable {
    public let store: any ProtocolStore
    public let processor: InboundProcessor

    /// Loads per stanza: the second follows when the first named a stored LID or a new mapping.
    static let maximumLoads = 3

    public init(store: any ProtocolStore, device: LocalDevice, isActive: Bool = false) {
        self.store = store
        processor = InboundProcessor(device: device, isActive: isActive)
    }

    /// Handles `node` (a `<message>`, `<receipt>` or `<notification>`; anything else is acked).
    /// `generator` draws ratchet keys.
    public func receive(_ node: Node, using generator: inout some RandomNumberGenerator) async throws -> InboundResult {
        let stanza = InboundStanza(node, own: processor.device.account)
        var state = ProtocolState()
        for _ in 0..<Self.maximumLoads {
            let missing = processor.requirements(for: stanza, given: state).subtracting(state.covered)
            guard !missing.isEmpty else {
                break
            }
            state.merge(try await store.load(missing), answering: missing)
        }
        let outcome = processor.process(stanza, state: state, using: &generator)
        let receipt = outcome.changes.isEmpty ? CommitReceipt() : try await store.commit(outcome.changes)
        let answers = outcome.answers.map { answer in
            switch answer {
            case .node(let node):
                return node
            case .retryReceipt(let message, let count, let withKeys):
                let preKeyID = withKeys ? receipt.retryPreKeySequence.map(OneTimePreKeys.retryID(sequence:)) : nil
                return message.retryReceipt(
                    count: count, bundle: processor.device.retryBundle(preKeyID: preKeyID), includeKeys: withKeys
                )
            }
        }
        return InboundResult(answers: answers, report: outcome.report, statuses: outcome.changes.outboundStatuses)
    }
}
