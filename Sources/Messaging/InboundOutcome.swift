import Foundation
import WAWire

/// What the pure processor decided for one stanza: the state to commit, the answers to send after the
/// commit (in order), and a report for metrics and logs.
public struct InboundOutcome: Sendable {
    /// One answer. A retry receipt is built after the commit, which reserves its one-time prekey.
    public enum Answer: Sendable {
        case node(Node)
        /// `message.retryReceipt(count:bundle:includeKeys:)` (messaging.md §5.1).
        case retryReceipt(IncomingMessage, count: Int, withKeys: Bool)
    }

    public var changes = ProtocolChanges()
    public var answers: [Answer] = []
    public var report: InboundReport

    init(report: InboundReport) {
        self.report = report
    }
}

/// How one stanza was handled, for metrics, logs and `pairgate link`.
public struct InboundReport: Hashable, Sendable {
    public enum Disposition: Hashable, Sendable {
        /// Decrypted and stored as a new inbox row (`message`); answered with its receipts.
        case stored
        /// Handled before: the inbox has it, or its keys were used already. Answered with its receipt.
        case duplicate
        /// Decrypted, but with nothing to store (no readable content); answered with its receipt.
        case receipted
        /// Could not be decrypted (`reason` is the Signal error code): a retry receipt (unless five were
        /// sent) and an ack.
        case decryptFailed(reason: String)
        /// Refused with an `<ack error>`: unparsable (487), no `<enc>` (488), not a protobuf (491),
        /// only `msmsg` (495).
        case refused(NackCode)
        /// Answered with an ack only: receipts, notifications, statuses, newsletters, unavailable messages.
        case acknowledged
    }

    /// The stanza's tag.
    public var tag: String
    public var disposition: Disposition = .acknowledged
    /// For `<message>`: the type it was stored or counted under (`MessageType`).
    public var messageType: String?
    /// The row committed with `stored`.
    public var message: InboxMessage?
    /// The count of the retry receipt sent, when one was.
    public var retryReceipt: Int?
    /// A `<message>`'s `t`.
    public var sentAt: Date?
    /// Identities replaced or forgotten.
    public var identityChanges: [ProtocolChanges.IdentityChange] = []

    /// A report on a stanza with this tag; the rest is filled in as it is handled.
    public init(tag: String) {
        self.tag = tag
    }
}

/// The pipeline's result: the answers to write, in order, once the commit succeeded.
public struct InboundResult: Sendable {
    public var answers: [Node]
    public var report: InboundReport
    /// What the stanza said of messages we sent (receipts: delivered, read), as committed.
    public var statuses: [OutboundStatusChange] = []
}
