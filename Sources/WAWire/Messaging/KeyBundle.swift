/// The public keys one device publishes to start a Signal session with it, as the prekey fetch answers
/// (`<user>` of messaging.md §6.1) and a retry receipt's `<keys>` carry them (§5.1, §5.2 step 4).
///
/// Keys are the 32-byte wire form; the Signal layer prepends the type byte 05. A bundle without `preKey`
/// means a session from the signed prekey alone.
public struct KeyBundle: Hashable, Sendable {
    /// A one-time prekey: 24-bit id and public key.
    public struct PreKey: Hashable, Sendable {
        public let id: UInt32
        public let publicKey: [UInt8]

        public init(id: UInt32, publicKey: [UInt8]) {
            self.id = id
            self.publicKey = publicKey
        }
    }

    /// The signed prekey: id, public key and the identity key's signature over `05 ‖ publicKey`.
    public struct SignedPreKey: Hashable, Sendable {
        public let id: UInt32
        public let publicKey: [UInt8]
        public let signature: [UInt8]

        public init(id: UInt32, publicKey: [UInt8], signature: [UInt8]) {
            self.id = id
            self.publicKey = publicKey
            self.signature = signature
        }
    }

    public let registrationID: UInt32
    /// 32 bytes.
    public let identityKey: [UInt8]
    public let signedPreKey: SignedPreKey
    public let preKey: PreKey?
    /// The serialized ADVSignedDeviceIdentity a retry receipt's `<keys>` ends with (messaging.md §8.3).
    public let deviceIdentity: [UInt8]?

    public init(
        registrationID: UInt32,
        identityKey: [UInt8],
        signedPreKey: SignedPreKey,
        preKey: PreKey?,
        deviceIdentity: [UInt8]? = nil
    ) {
        self.registrationID = registrationID
        self.identityKey = identityKey
        self.signedPreKey = signedPreKey
        self.preKey = preKey
        self.deviceIdentity = deviceIdentity
    }

    /// A serialized ADVSignedDeviceIdentity is about 200 bytes.
    public static let maxDeviceIdentitySize = 4096

    /// Reads a bundle as whatsmeow's `nodeToPreKeyBundle`: `<registration>` on `node`, the keys in its
    /// `<keys>` child or on `node` itself; every length enforced (registration 4, identity 32, id 3,
    /// value 32, signature 64). An `<error>` child is an `errorAnswer` carrying its code.
    init(parsing node: Node) throws(StanzaError) {
        if let error = node.child("error") {
            throw StanzaError(.errorAnswer, at: error.attribute("code") ?? "error")
        }
        let registration = try node.requiredBytes("registration", length: 4)
        let keys = node.child("keys") ?? node
        identityKey = try keys.requiredBytes("identity", length: 32)
        guard let signed = keys.child("skey") else {
            throw StanzaError(.missingChild, at: "\(keys.tag)/skey")
        }
        signedPreKey = SignedPreKey(
            id: try Self.keyID(signed),
            publicKey: try signed.requiredBytes("value", length: 32),
            signature: try signed.requiredBytes("signature", length: 64)
        )
        if let oneTime = keys.child("key") {
            preKey = PreKey(id: try Self.keyID(oneTime), publicKey: try oneTime.requiredBytes("value", length: 32))
        } else {
            preKey = nil
        }
        if let identity = keys.child("device-identity") {
            let bytes = try identity.binaryContent()
            guard bytes.count <= Self.maxDeviceIdentitySize else {
                throw StanzaError(.limitExceeded, at: "keys/device-identity")
            }
            deviceIdentity = bytes
        } else {
            deviceIdentity = nil
        }
        registrationID = registration.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The children of a retry receipt's `<keys>` (whatsmeow `sendRetryReceipt`): type 05, identity, the
    /// one-time prekey, the signed prekey, the device identity.
    func keyNodes() -> [Node] {
        var nodes = [
            Node("type", bytes: [RegistrationKeys.keyType]),
            Node("identity", bytes: identityKey),
        ]
        if let preKey {
            nodes.append(Node("key", [
                Node("id", bytes: Self.bigEndian(preKey.id, count: 3)),
                Node("value", bytes: preKey.publicKey),
            ]))
        }
        nodes.append(Node("skey", [
            Node("id", bytes: Self.bigEndian(signedPreKey.id, count: 3)),
            Node("value", bytes: signedPreKey.publicKey),
            Node("signature", bytes: signedPreKey.signature),
        ]))
        if let deviceIdentity {
            nodes.append(Node("device-identity", bytes: deviceIdentity))
        }
        return nodes
    }

    private static func keyID(_ node: Node) throws(StanzaError) -> UInt32 {
        try node.requiredBytes("id", length: 3).reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func bigEndian(_ value: UInt32, count: Int) -> [UInt8] {
        (0..<count).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
