extension QRCode {
    /// The colour of the terminal behind the text; the glyphs are drawn in the opposite colour.
    public enum TerminalBackground: Sendable {
        /// Light text on a dark background (most terminals): glyphs stand for light modules.
        case dark
        /// Dark text on a light background: glyphs stand for dark modules.
        case light
    }

    /// The symbol as text, two module rows per line with the half blocks ▀ ▄ █ and spaces, so the
    /// modules come out roughly square; lines are joined by "\n" without a trailing one.
    public func terminalText(background: TerminalBackground = .dark, quietZone: Int = 4) -> String {
        let margin = max(quietZone, 0)
        let range = -margin..<size + margin
        func inked(_ x: Int, _ y: Int) -> Bool {
            guard range.contains(y) else { return false }
            return self[x, y] == (background == .light)
        }
        var lines: [String] = []
        for y in stride(from: range.lowerBound, to: range.upperBound, by: 2) {
            var line = ""
            for x in range {
                switch (inked(x, y), inked(x, y + 1)) {
                case (true, true): line += "█"
                case (true, false): line += "▀"
                case (false, true): line += "▄"
                case (false, false): line += " "
                }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
