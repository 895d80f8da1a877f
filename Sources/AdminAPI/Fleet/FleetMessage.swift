import DevicePool
import Foundation

/// What one instance tells the others over PostgreSQL NOTIFY on one channel, as JSON: who sends
/// it, and what. An instance ignores its own messages (it acted on them when it sent them).
struct FleetMessage: Codable, Sendable, Hashable {
    /// The sending instance's id.
    var from: String
    var body: Body

    enum Body: Codable, Sendable, Hashable {
        /// An event published on the sender's bus.
        case event(GatewayEvent)
        /// Someone here watches a pairing and has nothing yet: its owner sends what it showed again.
        case replay(pairingID: UUID)
        /// Reset or stop a device that instance `to` runs (the case keeps its name on the wire).
        case reset(ResetRequest)
        /// The answer to a reset or a stop, for the instance that asked.
        case resetResult(ResetReply)
        /// Tenants, hosts or tokens changed: forget cached lookups, stop a disabled tenant's devices.
        case tenancyChanged
        /// The fleet's WhatsApp Web version is now this one (stored in `settings`).
        case clientVersion(String)
        /// A message was queued for the device: its owner sends it.
        case outboxReady(deviceID: UUID)
        /// The sender released these devices for instance `to`, which claims them at once.
        case handover(Handover)
        /// Instance `instance` hands every device to its peers (`pairgate drain`).
        case drain(instance: String)
    }

    static let channel = "pairgate_fleet"
    /// NOTIFY refuses a payload of this many bytes or more.
    static let payloadLimit = 8000

    /// The NOTIFY payload; throws `TooLarge` rather than send what PostgreSQL would refuse.
    func payload() throws -> String {
        let data = try JSONEncoder().encode(self)
        guard data.count < Self.payloadLimit else { throw TooLarge(bytes: data.count) }
        return String(decoding: data, as: UTF8.self)
    }

    struct TooLarge: Error, CustomStringConvertible {
        var bytes: Int
        var description: String { "a fleet message of \(bytes) bytes exceeds NOTIFY's limit of \(FleetMessage.payloadLimit)" }
    }
}

struct ResetRequest: Codable, Sendable, Hashable {
    var id: UUID
    var to: String
    var deviceID: UUID
    var mode: DeviceCommand
}

/// What a routed request asks a device's owner to do. The raw values are the wire form:
/// `soft` and `logout` are the reset modes, so instances that know only resets still
/// understand those.
enum DeviceCommand: String, Codable, Sendable, Hashable {
    case soft, logout, stop

    init(_ mode: ResetMode) {
        switch mode {
        case .soft: self = .soft
        case .logout: self = .logout
        }
    }
}

struct ResetReply: Codable, Sendable, Hashable {
    var id: UUID
    var to: String
    var outcome: ResetOutcome
}
