/// Why a connection's received bytes can no longer be read; final, like the errors behind it.
public struct FrameStreamError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code, safe to log and to match on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unreadableFraming = "unreadable_framing"
            case undecryptable
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The bytes are not frames: a wrong connection header, or a frame longer than accepted.
        public static let unreadableFraming = Code(.unreadableFraming)
        /// A frame did not decrypt: the two sides' keys or counters disagree.
        public static let undecryptable = Code(.undecryptable)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What broke the framing, for `unreadableFraming`.
    public let framing: FrameError?

    public init(_ code: Code) {
        self.code = code
        framing = nil
    }

    public init(framing: FrameError) {
        code = .unreadableFraming
        self.framing = framing
    }

    /// What happened, in words for a disconnect reason or a violation record.
    public var detail: String {
        guard let framing else {
            return "a frame failed to decrypt"
        }
        return "unreadable framing (\(framing.code))"
    }

    public var description: String {
        framing.map { "FrameStreamError(\(code): \($0.code))" } ?? "FrameStreamError(\(code))"
    }
}
