import Foundation

/// The metric names a PromQL expression (or a Grafana query with its `$variables`) selects, and
/// the expressions of the shipped alert rules and dashboard. Enough PromQL for our own files:
/// strings, label matchers, ranges, grouping clauses, functions and keywords name no metric.
enum PromQLMetricNames {
    static func names(in expression: String) -> Set<String> {
        let characters = Array(expression)
        var names = Set<String>()
        var index = 0

        func isIdentifierStart(_ character: Character) -> Bool { character.isASCII && (character.isLetter || character == "_" || character == ":") }
        func isIdentifier(_ character: Character) -> Bool { isIdentifierStart(character) || (character.isASCII && character.isNumber) }
        /// Skips from an opening bracket to after its partner, strings inside included.
        func skipGroup(from start: Int, open: Character, close: Character) -> Int {
            var depth = 0
            var position = start
            while position < characters.count {
                let character = characters[position]
                if character == "\"" || character == "'" || character == "`" {
                    position = skipString(from: position)
                    continue
                }
                if character == open { depth += 1 }
                if character == close {
                    depth -= 1
                    if depth == 0 { return position + 1 }
                }
                position += 1
            }
            return position
        }
        func skipString(from start: Int) -> Int {
            let quote = characters[start]
            var position = start + 1
            while position < characters.count, characters[position] != quote {
                position += characters[position] == "\\" ? 2 : 1
            }
            return position + 1
        }

        while index < characters.count {
            let character = characters[index]
            switch character {
            case "\"", "'", "`":
                index = skipString(from: index)
            case "{":
                index = skipGroup(from: index, open: "{", close: "}")
            case "[":
                index = skipGroup(from: index, open: "[", close: "]")
            case "$":
                // A Grafana variable: $name or ${name}.
                index += 1
                if index < characters.count, characters[index] == "{" {
                    index = skipGroup(from: index, open: "{", close: "}")
                } else {
                    while index < characters.count, isIdentifier(characters[index]) { index += 1 }
                }
            case _ where character.isNumber || character == ".":
                // A number (0.99, 1e3, 0x1F): its letters are not an identifier.
                while index < characters.count, isIdentifier(characters[index]) || characters[index] == "." { index += 1 }
            case _ where isIdentifierStart(character):
                var end = index
                while end < characters.count, isIdentifier(characters[end]) { end += 1 }
                let word = String(characters[index..<end])
                var next = end
                while next < characters.count, characters[next].isWhitespace { next += 1 }
                let call = next < characters.count && characters[next] == "("
                // `sum by (state) (…)`: an aggregation whose grouping comes before its argument.
                var following = next
                while following < characters.count, isIdentifier(characters[following]) { following += 1 }
                let aggregation = ["by", "without"].contains(String(characters[next..<following]))
                if grouping.contains(word) {
                    index = call ? skipGroup(from: next, open: "(", close: ")") : end
                } else {
                    if !call, !aggregation, !keywords.contains(word) { names.insert(word) }
                    index = end
                }
            default:
                index += 1
            }
        }
        return names
    }

    private static let grouping: Set<String> = ["by", "without", "on", "ignoring", "group_left", "group_right"]
    private static let keywords: Set<String> = ["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "Inf", "NaN"]

    /// Every `expr:` of a Prometheus rules file, inline or as a `|` / `>` block.
    static func ruleExpressions(yaml: String) -> [String] {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var expressions: [String] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.drop { $0 == " " }
            index += 1
            guard trimmed.hasPrefix("expr:") else { continue }
            let value = trimmed.dropFirst("expr:".count).trimmingCharacters(in: .whitespaces)
            if ["|", "|-", ">", ">-"].contains(value) {
                let indent = line.count - trimmed.count
                var block: [String] = []
                while index < lines.count {
                    let next = lines[index]
                    let nextIndent = next.prefix { $0 == " " }.count
                    guard next.trimmingCharacters(in: .whitespaces).isEmpty || nextIndent > indent else { break }
                    block.append(next)
                    index += 1
                }
                expressions.append(block.joined(separator: "\n"))
            } else {
                expressions.append(value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'")))
            }
        }
        return expressions
    }

    /// Every query of a Grafana dashboard: each panel target's `expr` (rows' panels included) and
    /// each templating query's metric (`label_values(metric, label)`).
    static func dashboardExpressions(_ dashboard: [String: Any]) -> [String] {
        var expressions: [String] = []
        func walk(_ value: Any) {
            if let object = value as? [String: Any] {
                if let expression = object["expr"] as? String { expressions.append(expression) }
                for (_, child) in object { walk(child) }
            } else if let array = value as? [Any] {
                array.forEach(walk)
            }
        }
        walk(dashboard["panels"] ?? [])
        let variables = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        for variable in variables where variable["type"] as? String == "query" {
            let query = (variable["query"] as? [String: Any])?["query"] as? String ?? variable["query"] as? String ?? ""
            if query.hasPrefix("label_values("), let comma = query.firstIndex(of: ",") {
                expressions.append(String(query[query.index(query.startIndex, offsetBy: "label_values(".count)..<comma]))
            } else {
                expressions.append(query)
            }
        }
        return expressions
    }
}
