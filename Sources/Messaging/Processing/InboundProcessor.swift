import Foundation
import Signal
import WAWire

/// The receive path's decisions, pure: given a stanza and the stored state it asked for, what to commit
/// and what to answer (messaging.md §2–§5). No I/O, no clock; randomness is injected (a `msg` that
/// turns the ratchet draws our next ratchet key).
///
/// Use it in two steps: `requirements(for:given:)` names the state to load (ask again with what was
/// loaded until it asks for nothing new), then `process(_:state:using:)` decides.
public struct InboundProcessor: Sendable {
    public let device: LocalDevice
    /// Delivery receipts for peers' messages say `inactive` unless the device announced itself
    /// available (messaging.md §4.1); Pairgate sends no presence, so this is false in the gateway.
    public var isActive: Bool

    public init(device: LocalDevice, isActive: Bool = false) {
        self.device = device
        self.isActive = isActive
    }

    /// The state `stanza` needs, given what was loaded so far (`state.covered`): a stored LID changes
    /// which session decrypts, and a new LID mapping asks for the phone number's state to move it.
    public func requirements(for stanza: InboundStanza, given state: ProtocolState) -> StateRequest {
        switch stanza {
        case .message(let message): requirements(for: message, given: state)
        case .notification(let notification): requirements(for: notification, given: state)
        case .receipt, .unreadable: StateRequest()
        }
    }

    /// What to commit and answer for `stanza`, from `state` (which must cover `requirements`).
    public func process(
        _ stanza: InboundStanza, state: ProtocolState, using generator: inout some RandomNumberGenerator
    ) -> InboundOutcome {
        switch stanza {
        case .message(let message):
            return process(message, state: state, using: &generator)
        case .notification(let notification):
            return process(notification, state: state)
        case .receipt(let receipt):
            // Receipts change nothing stored yet; recording the statuses of messages we sent (issue 12)
            // goes here, into the commit before this ack. A retry request is only acked until then.
            var outcome = InboundOutcome(report: InboundReport(tag: "receipt"))
            outcome.answers = [.node(receipt.envelope.ack())]
            return outcome
        case .unreadable(let envelope, let error):
            var outcome = InboundOutcome(report: InboundReport(tag: envelope.tag))
            switch envelope.tag {
            case "message", "receipt":
                // messaging.md §3.1: an unparsable message or receipt is nacked 487.
                let code = error.nackCode ?? .parsingError
                outcome.answers = [.node(envelope.ack(error: code))]
                outcome.report.disposition = .refused(code)
            default:
                // Every notification is acked, even one that cannot be read (whatsmeow acks before parsing).
                outcome.answers = [.node(envelope.ack())]
            }
            return outcome
        }
    }
}
