import Foundation

/// Devices this instance released for `to` to claim at once (sent over the fleet bus).
public struct Handover: Sendable, Hashable, Codable {
    public var to: String
    public var devices: [UUID]

    public init(to: String, devices: [UUID]) {
        self.to = to
        self.devices = devices
    }
}
