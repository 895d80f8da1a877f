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
            // The statuses of messages we sent are committed before this ack. A retry request is only
            // acked here; the device's sender answers it (it may need a prekey fetch).
            var outcome = InboundOutcome(report: InboundReport(tag: "receipt"))
            outcome.changes.outboundStatuses = Self.statuses(from: receipt)
            outcome.answers = [.node(receipt.envelope.ack())]
            return outcome
        case .unreadable(let envelope, let error):
            var outcome = InboundOutcome(report: InboundReport(tag: envelope.tag))
            switch envelope.tag {
            case "ack":
                // The server's ack of a message we sent is the sender's (and is never answered).
                break
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

    /// What a receipt says of messages we sent (messaging.md §4.3): delivered, or read (a played
    /// voice note counts as read). Receipts from our own other devices say nothing of the recipient.
    static func statuses(from receipt: IncomingReceipt) -> [OutboundStatusChange] {
        guard !receipt.source.isFromMe, let progress = receipt.progress else {
            return []
        }
        let status: OutboundStatusChange.Status = progress == .delivered ? .delivered : .read
        if !receipt.grouped.isEmpty {
            return receipt.grouped.map {
                OutboundStatusChange(messageID: $0.messageID, status: status, at: serverTime($0.timestamp))
            }
        }
        let at = serverTime(receipt.timestamp ?? 0)
        return receipt.messageIDs.map { OutboundStatusChange(messageID: $0, status: status, at: at) }
    }
}
