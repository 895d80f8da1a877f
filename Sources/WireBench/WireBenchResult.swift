/// Named figures of a wire benchmark run: printable as a table, Codable for JSON.
public struct WireBenchResult: Codable, Hashable, Sendable, CustomStringConvertible {
    /// One measured value, e.g. `noise.handshake` in `handshakes/s`.
    public struct Figure: Codable, Hashable, Sendable {
        public var name: String
        public var value: Double
        public var unit: String
        /// The budget the figure is held to, e.g. `>= 0.8`; nil for plain measurements.
        public var target: String?

        public init(name: String, value: Double, unit: String, target: String? = nil) {
            self.name = name
            self.value = value
            self.unit = unit
            self.target = target
        }
    }

    public var figures: [Figure]

    public init(figures: [Figure] = []) {
        self.figures = figures
    }

    /// The value of the first figure called `name`.
    public subscript(name: String) -> Double? {
        figures.first { $0.name == name }?.value
    }

    /// One figure per line: name, value, unit and target, aligned.
    public var description: String {
        let nameWidth = figures.map(\.name.count).max() ?? 0
        return figures.map { figure in
            let value = figure.value >= 100 ? String(Int(figure.value.rounded())) : String((figure.value * 1000).rounded() / 1000)
            let padding = String(repeating: " ", count: nameWidth - figure.name.count)
            let valueColumn = String(repeating: " ", count: max(0, 12 - value.count)) + value
            let target = figure.target.map { "  (target \($0))" } ?? ""
            return "\(figure.name)\(padding)  \(valueColumn) \(figure.unit)\(target)"
        }.joined(separator: "\n")
    }
}
