extension Node: CustomStringConvertible {
    /// One-line XML for logs. Binary content shows only its length: refs, keys and signatures travel as
    /// binary content, and a log line must not carry them.
    public var description: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        out += "<"
        out += Self.escaped(tag)
        for attribute in attributes {
            out += " \(Self.escaped(attribute.key))=\"\(Self.escaped(attribute.value.description))\""
        }
        switch content {
        case .none:
            out += "/>"
            return
        case .nodes(let children):
            out += ">"
            for child in children {
                child.write(to: &out)
            }
        case .bytes(let bytes):
            out += ">[\(bytes.count) bytes]"
        case .string(let text):
            out += ">" + Self.escaped(text)
        case .jid(let jid):
            out += ">" + Self.escaped(jid.description)
        }
        out += "</\(Self.escaped(tag))>"
    }

    private static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else {
            return text
        }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "&#x\(String(scalar.value, radix: 16));"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        "&<>\"".unicodeScalars.contains(scalar) || scalar.value < 0x20 || scalar.value == 0x7F
    }
}
