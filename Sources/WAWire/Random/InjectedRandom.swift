/// The generator a session machine was given, as a concrete type: a stored
/// `any RandomNumberGenerator & Sendable` cannot be passed to the `inout some RandomNumberGenerator`
/// parameters of WAWire's key, pairing and handshake APIs as it is.
public struct InjectedRandom: RandomNumberGenerator, Sendable {
    public var base: any RandomNumberGenerator & Sendable

    public init(_ base: any RandomNumberGenerator & Sendable) {
        self.base = base
    }

    public mutating func next() -> UInt64 {
        base.next()
    }
}
