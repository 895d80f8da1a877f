/// The store refused what a caller asked for (malformed input, a host already taken, a device
/// that cannot be paired); callers turn it into a message or an HTTP problem. `message` is
/// written for the caller who sent the input and is safe to show them; the store's own
/// failures are `PostgresError`s.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What was refused, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidHost = "invalid_host"
            case hostTaken = "host_taken"
            case invalidName = "invalid_name"
            case deviceNotPairable = "device_not_pairable"
            case tooManyLabels = "too_many_labels"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Not a host name, or too many or too few hosts for a tenant.
        public static let invalidHost = Code(.invalidHost)
        /// Another tenant already has the host.
        public static let hostTaken = Code(.hostTaken)
        public static let invalidName = Code(.invalidName)
        /// The device to pair is not an unpaired or logged-out device of the tenant that no
        /// instance holds.
        public static let deviceNotPairable = Code(.deviceNotPairable)
        /// A change would leave a device with more labels than allowed.
        public static let tooManyLabels = Code(.tooManyLabels)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// What the caller did wrong, in their own terms (it may quote their input).
    public var message: String
    public var file: String
    public var line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// The message, for the caller who sent the input (the CLI prints it).
    public var description: String { message }

    public var debugDescription: String { "StoreError(\(code)): \(message) [\(file):\(line)]" }
}
