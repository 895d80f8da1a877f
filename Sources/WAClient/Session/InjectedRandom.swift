/// The generator a machine was given, as a concrete type: WAWire's `inout some RandomNumberGenerator`
/// parameters do not accept the stored existential directly across modules.
struct InjectedRandom: RandomNumberGenerator, Sendable {
    var base: any RandomNumberGenerator & Sendable

    mutating func next() -> UInt64 {
        base.next()
    }
}
