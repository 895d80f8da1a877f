import Foundation

/// One event of the catalogue (docs/webhooks.md), as delivered: a stable `type`, a unique `id`,
/// when it happened, the tenant, the device (null for tenant-wide events) and `data`.
public struct WebhookEvent: Sendable, Hashable {
    public var id: EventID
    /// When the change happened (not when it was delivered), to the millisecond.
    public var timestamp: Date
    public var tenantID: UUID
    /// The device the event is about; null for `endpoint.disabled`.
    public var deviceID: UUID?
    public var data: EventData

    public var type: EventType { data.type }

    public init(id: EventID, timestamp: Date, tenantID: UUID, deviceID: UUID?, data: EventData) {
        self.id = id
        self.timestamp = EventTime.truncated(timestamp)
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.data = data
    }

    /// A new event that happened at `now`, with a fresh id.
    public init(_ data: EventData, tenantID: UUID, deviceID: UUID?, now: Date, random: inout some RandomNumberGenerator) {
        self.init(id: .generate(now: now, using: &random), timestamp: now, tenantID: tenantID, deviceID: deviceID, data: data)
    }
}

extension WebhookEvent: Codable {
    enum CodingKeys: String, CodingKey {
        case id, type, timestamp, data
        case tenantID = "tenant_id"
        case deviceID = "device_id"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let data: EventData = switch try container.decode(EventType.self, forKey: .type) {
        case .deviceState: .deviceState(try container.decode(DeviceStateChanged.self, forKey: .data))
        case .pairingUpdated: .pairingUpdated(try container.decode(PairingUpdated.self, forKey: .data))
        case .pairingEnded: .pairingEnded(try container.decode(PairingEnded.self, forKey: .data))
        case .deviceLoggedOut: .deviceLoggedOut(try container.decode(DeviceLoggedOut.self, forKey: .data))
        case .messageReceived: .messageReceived(try container.decode(MessageReceived.self, forKey: .data))
        case .messageStatus: .messageStatus(try container.decode(MessageStatusChanged.self, forKey: .data))
        case .endpointDisabled: .endpointDisabled(try container.decode(EndpointDisabled.self, forKey: .data))
        }
        self.init(
            id: try container.decode(EventID.self, forKey: .id),
            timestamp: try container.decode(Date.self, forKey: .timestamp),
            tenantID: try container.decode(UUID.self, forKey: .tenantID),
            deviceID: try container.decodeIfPresent(UUID.self, forKey: .deviceID),
            data: data
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(type, forKey: .type)
        try container.encode(timestamp, forKey: .timestamp)
        try container.encodeLowercased(tenantID, forKey: .tenantID)
        try container.encodeLowercased(deviceID, forKey: .deviceID)
        switch data {
        case .deviceState(let value): try container.encode(value, forKey: .data)
        case .pairingUpdated(let value): try container.encode(value, forKey: .data)
        case .pairingEnded(let value): try container.encode(value, forKey: .data)
        case .deviceLoggedOut(let value): try container.encode(value, forKey: .data)
        case .messageReceived(let value): try container.encode(value, forKey: .data)
        case .messageStatus(let value): try container.encode(value, forKey: .data)
        case .endpointDisabled(let value): try container.encode(value, forKey: .data)
        }
    }
}
