/// Why a binary node could not be decoded, inflated or encoded; `code` is stable for metrics and tests.
///
/// The description names the code and the byte offset only: node contents (keys, refs, signatures)
/// never reach a log through an error.
public struct NodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier for one kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case emptyFrame = "empty_frame"
            case inflateFailed = "inflate_failed"
            case inflatedTooLarge = "inflated_too_large"
            case truncated
            case invalidToken = "invalid_token"
            case invalidListTag = "invalid_list_tag"
            case emptyNode = "empty_node"
            case invalidTag = "invalid_tag"
            case invalidAttribute = "invalid_attribute"
            case invalidJID = "invalid_jid"
            case invalidPacked = "invalid_packed"
            case listTooLarge = "list_too_large"
            case tooDeep = "too_deep"
            case tooManyNodes = "too_many_nodes"
            case trailingBytes = "trailing_bytes"
            case unencodable
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The frame has no flags byte.
        public static let emptyFrame = Code(.emptyFrame)
        /// The zlib stream is corrupt, truncated or followed by extra bytes.
        public static let inflateFailed = Code(.inflateFailed)
        /// The zlib stream inflates beyond the configured cap.
        public static let inflatedTooLarge = Code(.inflatedTooLarge)
        /// The input ends before a declared value does.
        public static let truncated = Code(.truncated)
        /// A tag byte that no form uses (0xF0–0xF4).
        public static let invalidToken = Code(.invalidToken)
        /// A node does not start with a list header, or a list is expected and something else is found.
        public static let invalidListTag = Code(.invalidListTag)
        /// A node's list size is 0.
        public static let emptyNode = Code(.emptyNode)
        /// A node's tag is missing, empty or a JID.
        public static let invalidTag = Code(.invalidTag)
        /// An attribute key is not a string, or a value is a list.
        public static let invalidAttribute = Code(.invalidAttribute)
        /// A JID form has a missing or non-string part, or the wrong server for its form.
        public static let invalidJID = Code(.invalidJID)
        /// A packed NIBBLE_8 string holds a nibble no character maps to, or an odd flag with no characters.
        public static let invalidPacked = Code(.invalidPacked)
        /// A declared list is longer than the remaining input could hold.
        public static let listTooLarge = Code(.listTooLarge)
        /// Nodes are nested deeper than the configured limit.
        public static let tooDeep = Code(.tooDeep)
        /// The stanza holds more nodes than the configured limit.
        public static let tooManyNodes = Code(.tooManyNodes)
        /// Bytes remain after the root node.
        public static let trailingBytes = Code(.trailingBytes)
        /// The encoder was given what the binary form cannot express: an empty tag, a list of more than
        /// 65,535 entries, an AD_JID device above 255 or a value of 2 GiB or more.
        public static let unencodable = Code(.unencodable)

        public var description: String {
            base.rawValue
        }
    }

    /// What went wrong.
    public let code: Code
    /// Where in the node bytes (after the flags byte, after inflating) the decoder noticed it; nil when encoding.
    public let offset: Int?

    public init(_ code: Code, offset: Int? = nil) {
        self.code = code
        self.offset = offset
    }

    public var description: String {
        if let offset {
            return "NodeError(\(code) at byte \(offset))"
        }
        return "NodeError(\(code))"
    }
}
