import Foundation

/// A linked device as the phone's "Linked devices" screen and the control API show it.
public struct LinkedDeviceInfo: Sendable, Hashable, Codable {
    /// The device number, as `DELETE /phones/{phone}/devices/{id}` takes it.
    public var id: UInt16
    /// `phone:id@s.whatsapp.net`.
    public var jid: String
    /// `lid:id@lid`.
    public var lid: String
    /// The operating system the companion registered with (DeviceProps `os`).
    public var os: String
    public var linkedAt: Date
    /// Whether it has a logged-in connection right now.
    public var online: Bool

    public init(id: UInt16, jid: String, lid: String, os: String, linkedAt: Date, online: Bool) {
        self.id = id
        self.jid = jid
        self.lid = lid
        self.os = os
        self.linkedAt = linkedAt
        self.online = online
    }
}
