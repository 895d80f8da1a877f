/// The QR inputs of one `pair-device` exchange and the ADV secret they advertise, with companion_reg_refresh rotation (pairing.md §10).
///
/// Rotation re-renders the *current* ref's QR and never advances. While a link-code pairing has derived its
/// ADV secret (stage 2, companion_finish sent) and waits for pair-success, rotating would break the HMAC
/// that pair-success is about to carry; the refresh is then recorded and applied only if that flow ends without
/// pairing, as whatsapp-rust does. WA Web rotates unconditionally; this is a deliberate divergence.
public struct QRPairingState: Sendable {
    /// The server's refs, in order; each gives one QR.
    public let refs: [String]
    public let noisePublicKey: [UInt8]
    public let identityPublicKey: [UInt8]
    public let platform: PairingPlatform
    /// The secret the QR advertises and pair-success's HMAC is keyed with; persist it whenever it changes.
    public private(set) var advSecret: [UInt8]
    /// Index into `refs` of the QR on screen; equal to `refs.count` once they are exhausted.
    public private(set) var currentIndex: Int
    /// A link-code pairing derived `advSecret` and waits for pair-success.
    public private(set) var isLinkCodeSecretPending: Bool
    /// A refresh arrived while the link-code secret had to stay; applied by `linkCodeEnded(using:)`.
    public private(set) var isRotationDeferred: Bool

    /// The outcome of a companion_reg_refresh.
    public enum Rotation: Sendable, Hashable {
        /// The secret changed; `qr` is the current ref's new QR, nil when the refs are exhausted.
        case rotated(qr: PairingQR?)
        /// The link-code secret was kept; the rotation waits for that flow to end.
        case deferred
    }

    /// Validates every ref up front, so rendering later cannot fail.
    public init(
        refs: [String],
        noisePublicKey: [UInt8],
        identityPublicKey: [UInt8],
        advSecret: [UInt8],
        platform: PairingPlatform
    ) throws(PairingError) {
        guard !refs.isEmpty else { throw PairingError(.qrNoRefs) }
        for ref in refs {
            _ = try PairingQR(
                ref: ref, noisePublicKey: noisePublicKey, identityPublicKey: identityPublicKey,
                advSecret: advSecret, platform: platform
            )
        }
        self.refs = refs
        self.noisePublicKey = noisePublicKey
        self.identityPublicKey = identityPublicKey
        self.platform = platform
        self.advSecret = advSecret
        currentIndex = 0
        isLinkCodeSecretPending = false
        isRotationDeferred = false
    }

    /// The QR of the current ref, nil once the refs are exhausted.
    public var currentQR: PairingQR? {
        guard currentIndex < refs.count else { return nil }
        // The ref and key lengths were validated at init, and advSecret is only ever replaced by 32 bytes.
        return try? PairingQR(
            ref: refs[currentIndex], noisePublicKey: noisePublicKey, identityPublicKey: identityPublicKey,
            advSecret: advSecret, platform: platform
        )
    }

    /// Moves to the next ref when the current QR expires; nil when none is left.
    public mutating func advance() -> PairingQR? {
        if currentIndex < refs.count { currentIndex += 1 }
        return currentQR
    }

    /// Handles companion_reg_refresh: a fresh 32-byte secret from `rng`, unless a link-code secret must stay.
    public mutating func rotateADVSecret(using rng: inout some RandomNumberGenerator) -> Rotation {
        guard !isLinkCodeSecretPending else {
            isRotationDeferred = true
            return .deferred
        }
        advSecret = rng.bytes(32)
        return .rotated(qr: currentQR)
    }

    /// A link-code pairing sent companion_finish: its derived secret replaces the current one and must stay until it ends.
    public mutating func adoptLinkCodeSecret(_ secret: [UInt8]) throws(PairingError) {
        guard secret.count == 32 else { throw PairingError(.keyLength) }
        advSecret = secret
        isLinkCodeSecretPending = true
    }

    /// The link-code pairing ended without pair-success: applies a deferred rotation, if one was recorded.
    public mutating func linkCodeEnded(using rng: inout some RandomNumberGenerator) -> Rotation? {
        isLinkCodeSecretPending = false
        guard isRotationDeferred else { return nil }
        isRotationDeferred = false
        return rotateADVSecret(using: &rng)
    }
}
