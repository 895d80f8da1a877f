/// The `data` of each event type.
public enum EventData: Sendable, Hashable {
    case deviceState(DeviceStateChanged)
    case pairingUpdated(PairingUpdated)
    case pairingEnded(PairingEnded)
    case deviceLoggedOut(DeviceLoggedOut)
    case messageReceived(MessageReceived)
    case messageStatus(MessageStatusChanged)
    case endpointDisabled(EndpointDisabled)

    public var type: EventType {
        switch self {
        case .deviceState: .deviceState
        case .pairingUpdated: .pairingUpdated
        case .pairingEnded: .pairingEnded
        case .deviceLoggedOut: .deviceLoggedOut
        case .messageReceived: .messageReceived
        case .messageStatus: .messageStatus
        case .endpointDisabled: .endpointDisabled
        }
    }
}
