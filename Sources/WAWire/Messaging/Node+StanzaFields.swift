/// Typed reads of stanza attributes and children that fail with a `StanzaError` naming the place.
///
/// JID attributes must be written in a JID form, as whatsmeow requires (`AttrUtility.GetJID`): a JID
/// spelled as plain text is refused rather than guessed at.
extension Node {
    func requiredString(_ key: String) throws(StanzaError) -> String {
        guard let value = attributes[key] else {
            throw StanzaError(.missingAttribute, at: "\(tag).\(key)")
        }
        guard case .string(let text) = value, !text.isEmpty else {
            throw StanzaError(.invalidAttribute, at: "\(tag).\(key)")
        }
        return text
    }

    /// A string attribute; nil when absent. A JID-form value is refused (whatsmeow's `GetString`).
    func optionalString(_ key: String) throws(StanzaError) -> String? {
        guard let value = attributes[key] else {
            return nil
        }
        guard case .string(let text) = value else {
            throw StanzaError(.invalidAttribute, at: "\(tag).\(key)")
        }
        return text
    }

    func requiredJID(_ key: String) throws(StanzaError) -> JID {
        guard let jid = try optionalJID(key) else {
            throw StanzaError(.missingAttribute, at: "\(tag).\(key)")
        }
        return jid
    }

    func optionalJID(_ key: String) throws(StanzaError) -> JID? {
        guard let value = attributes[key] else {
            return nil
        }
        guard case .jid(let jid) = value, !jid.server.rawValue.isEmpty else {
            throw StanzaError(.invalidAttribute, at: "\(tag).\(key)")
        }
        return jid
    }

    /// A decimal integer attribute (Unix seconds, counts); nil when absent.
    func optionalInteger(_ key: String) throws(StanzaError) -> Int64? {
        guard let text = try optionalString(key) else {
            return nil
        }
        guard let value = Self.decimal(text) else {
            throw StanzaError(.invalidAttribute, at: "\(tag).\(key)")
        }
        return value
    }

    func requiredInteger(_ key: String) throws(StanzaError) -> Int64 {
        guard let value = try optionalInteger(key) else {
            throw StanzaError(.missingAttribute, at: "\(tag).\(key)")
        }
        return value
    }

    /// The binary content of the child `child`, of exactly `length` bytes when given.
    func requiredBytes(_ child: String, length: Int? = nil) throws(StanzaError) -> [UInt8] {
        guard let node = self.child(child) else {
            throw StanzaError(.missingChild, at: "\(tag)/\(child)")
        }
        return try node.binaryContent(length: length)
    }

    /// This node's binary content, of exactly `length` bytes when given.
    func binaryContent(length: Int? = nil) throws(StanzaError) -> [UInt8] {
        guard let bytes, length.map({ $0 == bytes.count }) ?? true else {
            throw StanzaError(.invalidContent, at: tag)
        }
        return bytes
    }

    /// The children, refused when there are more than `limit`.
    func children(limit: Int) throws(StanzaError) -> [Node] {
        let children = children
        guard children.count <= limit else {
            throw StanzaError(.limitExceeded, at: tag)
        }
        return children
    }

    /// An optional sign and 1–18 digits: always fits an Int64, so no overflow to handle.
    private static func decimal(_ text: String) -> Int64? {
        let digits = text.utf8.first == UInt8(ascii: "-") ? text.utf8.dropFirst() : text.utf8[...]
        guard !digits.isEmpty, digits.count <= 18,
              digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else {
            return nil
        }
        return Int64(text)
    }
}
