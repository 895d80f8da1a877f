/// Why a messaging stanza or its protobuf content was refused; `code` is stable for metrics and tests and
/// maps to the nack the stanza gets (`nackCode`).
///
/// The description names the code and the place (tag, attribute or child names) only; values such as
/// ids, JIDs and keys never reach a log through an error.
public struct StanzaError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier for one kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unexpectedTag = "unexpected_tag"
            case missingAttribute = "missing_attribute"
            case invalidAttribute = "invalid_attribute"
            case missingChild = "missing_child"
            case invalidContent = "invalid_content"
            case limitExceeded = "limit_exceeded"
            case noEncryptedContent = "no_encrypted_content"
            case unreadableEncryption = "unreadable_encryption"
            case invalidProtobuf = "invalid_protobuf"
            case errorAnswer = "error_answer"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The node is not the stanza the parser reads (a `<receipt>` given to the message parser).
        public static let unexpectedTag = Code(.unexpectedTag)
        /// A required attribute is absent.
        public static let missingAttribute = Code(.missingAttribute)
        /// An attribute is not a JID, a number or a value the protocol allows where one is required.
        public static let invalidAttribute = Code(.invalidAttribute)
        /// A required child node is absent.
        public static let missingChild = Code(.missingChild)
        /// A child's content has the wrong form or length (a 31-byte identity key, text where bytes belong).
        public static let invalidContent = Code(.invalidContent)
        /// More children, items or bytes than a real stanza carries.
        public static let limitExceeded = Code(.limitExceeded)
        /// A `<message>` without `<enc>`, `<unavailable>` or `<plaintext>`.
        public static let noEncryptedContent = Code(.noEncryptedContent)
        /// A `<message>` whose only ciphertexts are of a kind this client does not decrypt (`msmsg`).
        public static let unreadableEncryption = Code(.unreadableEncryption)
        /// A plaintext that is not a `Message` protobuf.
        public static let invalidProtobuf = Code(.invalidProtobuf)
        /// The server answered a query with an `<error>` (for the whole query or one user of it).
        public static let errorAnswer = Code(.errorAnswer)

        /// The `<ack error>` a stanza refused for this reason gets; nil when the failure is not about an
        /// inbound stanza (an answer to our own query).
        public var nackCode: NackCode? {
            switch base {
            case .unexpectedTag, .missingAttribute, .invalidAttribute, .missingChild, .invalidContent, .limitExceeded:
                .parsingError
            case .noEncryptedContent: .unrecognizedStanza
            case .unreadableEncryption: .missingMessageSecret
            case .invalidProtobuf: .invalidProtobuf
            case .errorAnswer: nil
            }
        }

        public var description: String {
            base.rawValue
        }
    }

    /// What went wrong.
    public let code: Code
    /// Where: `tag`, `tag.attribute` or `tag/child`; for `errorAnswer`, the server's error code.
    public let location: String

    public init(_ code: Code, at location: String) {
        self.code = code
        self.location = location
    }

    /// The nack for the stanza this error refused (see `Code.nackCode`).
    public var nackCode: NackCode? {
        code.nackCode
    }

    public var description: String {
        "StanzaError(\(code) at \(location))"
    }
}
