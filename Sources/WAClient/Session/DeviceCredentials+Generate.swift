import WAWire

extension DeviceCredentials {
    /// Fresh companion keys (noise, identity, signed prekey 1, registration id, ADV secret, prekey seed)
    /// from the system's secure generator, for a device about to register.
    public static func generate() -> DeviceCredentials {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// Fresh companion keys drawn from `generator`; a seeded one reproduces a device in tests.
    public static func generate(using generator: inout some RandomNumberGenerator) -> DeviceCredentials {
        let keys = CompanionKeys.generate(using: &generator)
        var seed: [UInt8] = []
        seed.reserveCapacity(OneTimePreKeys.seedSize)
        while seed.count < OneTimePreKeys.seedSize {
            withUnsafeBytes(of: generator.next() as UInt64) { seed.append(contentsOf: $0) }
        }
        return DeviceCredentials(
            noiseKey: keys.noise.privateKey,
            identityKey: keys.identity.privateKey,
            signedPreKeyID: keys.signedPreKey.id,
            signedPreKey: keys.signedPreKey.keyPair.privateKey,
            signedPreKeySignature: keys.signedPreKey.signature,
            registrationID: keys.registrationID,
            advSecret: keys.advSecret,
            preKeySeed: seed
        )
    }
}
