/// Why framing refused a body or the received bytes.
public struct FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code, safe to log and to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case frameTooLarge = "frame_too_large"
            case invalidIntro = "invalid_intro"
            case routingInfoTooLarge = "routing_info_too_large"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A body to send is ≥ 2^24 bytes, or a received frame declares more than the reader's maximum.
        public static let frameTooLarge = Code(.frameTooLarge)
        /// The received stream does not start with the connection header (or a valid ED prefix).
        public static let invalidIntro = Code(.invalidIntro)
        /// Routing info to send is ≥ 2^24 bytes, or received routing info exceeds the reader's maximum.
        public static let routingInfoTooLarge = Code(.routingInfoTooLarge)

        public var description: String { base.rawValue }
    }

    public let code: Code

    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "FrameError(\(code))" }
}
