/// What the tenant wants of a device, beside what it is doing (`DeviceState`): `stopped` keeps
/// the device's credentials but no instance connects it — the claim loop passes it by, and an
/// instance that still holds it closes it. Persisted (`devices.desired_state`), so a stop
/// survives restarts and moves between instances.
public enum DesiredState: String, Sendable, Hashable, Codable, CaseIterable {
    case running, stopped
}
