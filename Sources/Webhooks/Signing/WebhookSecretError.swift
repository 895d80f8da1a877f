/// A signing secret that is not `whsec_` and the base64 of 24 to 64 bytes.
public struct WebhookSecretError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String { "a webhook secret is whsec_ followed by the base64 of 24 to 64 bytes" }
}
