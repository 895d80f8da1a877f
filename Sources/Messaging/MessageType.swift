import WAWire

/// The `type` an inbox row and the metrics give a message: the content kind (`MessageContent.Kind`),
/// except that protocol messages are named by their protocol type.
public enum MessageType {
    /// Statuses (`status@broadcast`) are acked without being read (the receive path's choice, see
    /// docs/messaging.md); they count under this type.
    public static let status = "status"
    /// Channel posts are acked only (messaging.md §2.8).
    public static let newsletter = "newsletter"
    /// A `<message>` with `<unavailable>` and no ciphertext for us (§2.4 step 1).
    public static let unavailable = "unavailable"
    /// Our phone uploaded a history-sync blob (answered with a `hist_sync` receipt; not downloaded).
    public static let historySyncNotification = "history_sync_notification"
    /// App-state keys our phone shares; stored without their bytes.
    public static let appStateKeyShare = "app_state_key_share"

    private static let protocolTypes: [MessageContent.ProtocolType: String] = [
        .revoke: "revoke",
        .ephemeralSetting: "ephemeral_setting",
        .historySyncNotification: historySyncNotification,
        .appStateSyncKeyShare: appStateKeyShare,
        .messageEdit: "message_edit",
        .peerDataOperationRequest: "peer_data_request",
        .peerDataOperationResponse: "peer_data_response",
        .lidMigrationMappingSync: "lid_migration_mapping_sync",
    ]
    /// Any other protocol message.
    public static let otherProtocol = "protocol"

    /// The type of decoded content.
    public static func of(_ content: MessageContent) -> String {
        guard content.kind == .protocol, let type = content.protocolType else {
            return content.kind.rawValue
        }
        return protocolTypes[type] ?? otherProtocol
    }

    /// Whether `type` names a protocol message (our phone expects a `peer_msg` receipt for its own).
    public static func isProtocol(_ type: String) -> Bool {
        type == otherProtocol || protocolTypes.values.contains(type)
    }
}
