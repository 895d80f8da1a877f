import WAWire

/// Who we are to Signal: our identity key pair and registration id (the device's credentials).
public struct LocalIdentity: Sendable {
    public var keyPair: Curve25519KeyPair
    public var registrationID: UInt32

    public init(keyPair: Curve25519KeyPair, registrationID: UInt32) {
        self.keyPair = keyPair
        self.registrationID = registrationID
    }
}
