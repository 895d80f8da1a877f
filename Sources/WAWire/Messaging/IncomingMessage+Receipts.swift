extension IncomingMessage {
    /// The extra receipts our own phone expects for protocol messages (messaging.md §4.1).
    public enum ProtocolReceipt: String, Hashable, Sendable {
        /// After a HISTORY_SYNC_NOTIFICATION.
        case historySync = "hist_sync"
        /// After any protocol message from our account with `category="peer"`.
        case peerMessage = "peer_msg"
    }

    /// The delivery receipt, sent once the message is stored (whatsmeow `sendMessageReceipt`, messaging.md
    /// §4.1): `id`, `to`, `participant`, `recipient` copied verbatim; `type` is `sender` for our own
    /// devices' messages (`peer_msg` when the stanza's type is `peer_msg`), `inactive` for a peer's while we
    /// are not `active` (not marked available), and absent otherwise.
    public func deliveryReceipt(active: Bool) -> Node {
        let type: String?
        if source.isFromMe {
            type = self.type == "peer_msg" ? "peer_msg" : "sender"
        } else {
            type = active ? nil : "inactive"
        }
        return envelope.receipt(type: type)
    }

    /// `<receipt id type to="<own PN, no device>"/>` (whatsmeow `SendProtocolMessageReceipt`).
    public func protocolReceipt(_ receipt: ProtocolReceipt, ownPhoneNumber: JID) -> Node {
        var attributes: Node.Attributes = [:]
        attributes["id"] = envelope.id
        attributes["type"] = .string(receipt.rawValue)
        attributes["to"] = .jid(ownPhoneNumber.userJID)
        return Node("receipt", attributes)
    }

    /// The retry receipt asking the sender to encrypt again (whatsmeow `sendRetryReceipt`, messaging.md
    /// §5.1), followed by a plain ack of the message. `count` comes from `retryReceiptCount(previouslySent:)`.
    /// `bundle.registrationID` always goes in `<registration>`; with `includeKeys` (see
    /// `retryReceiptIncludesKeys(count:forced:)`) its identity, a fresh one-time prekey, the signed prekey
    /// and our device identity go in `<keys>` so the sender can start a new session.
    public func retryReceipt(count: Int, bundle: KeyBundle, includeKeys: Bool) -> Node {
        var retry: Node.Attributes = ["count": .string(String(count))]
        retry["id"] = envelope.id
        retry["t"] = envelope.timestamp
        retry["v"] = "1"
        var children = [
            Node("retry", retry),
            Node("registration", bytes: KeyBundle.bigEndian(bundle.registrationID, count: 4)),
        ]
        if includeKeys {
            children.append(Node("keys", bundle.keyNodes()))
        }
        var receipt = envelope.receipt(type: "retry", children)
        if type == "peer_msg", source.isFromMe {
            receipt.attributes["category"] = "peer"
        }
        return receipt
    }

    /// Whether retry receipt number `count` carries `<keys>`: from the second on, or at once when `forced`
    /// (a `skmsg` failed for lack of a sender key and `hasPairwisePart` is false).
    public static func retryReceiptIncludesKeys(count: Int, forced: Bool) -> Bool {
        count >= 2 || forced
    }
}
