/// A domain-level failure of the store that callers turn into a message or an HTTP problem.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public static let invalidHost = Code("invalid_host")
        public static let hostTaken = Code("host_taken")
        public static let invalidName = Code("invalid_name")
        public static let notFound = Code("not_found")
        public var description: String { rawValue }
    }

    public var code: Code
    /// Human-readable, safe to show to the caller who sent the input.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
