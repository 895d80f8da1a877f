import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import QRCode

@Suite("Rendering")
struct RenderingTests {
    @Test func svgIsWellFormedWithAWhiteBackgroundAndOnePath() throws {
        let code = try QRCode.encode(pairingString)
        let svg = try SVGDocument(code.svg(moduleSize: 5, quietZone: 4))
        let extent = code.size + 8
        #expect(svg.root == "svg")
        #expect(svg.attributes["svg"]?["width"] == "\(extent * 5)")
        #expect(svg.attributes["svg"]?["height"] == "\(extent * 5)")
        #expect(svg.attributes["svg"]?["viewBox"] == "0 0 \(extent) \(extent)")
        #expect(svg.attributes["svg"]?["shape-rendering"] == "crispEdges")
        #expect(svg.attributes["rect"]?["fill"] == "#fff")
        #expect(svg.attributes["rect"]?["width"] == "\(extent)")
        #expect(svg.attributes["rect"]?["height"] == "\(extent)")
        #expect(svg.attributes["path"]?["fill"] == "#000")
        #expect(svg.elementCounts == ["svg": 1, "rect": 1, "path": 1])
    }

    /// Rasterising the path's runs gives back exactly the dark modules, offset by the quiet zone.
    @Test(arguments: [0, 2, 4])
    func svgPathCoversExactlyTheDarkModules(quietZone: Int) throws {
        let code = try QRCode.encode("https://wa.me/settings/linked_devices", correction: .quartile)
        let svg = try SVGDocument(code.svg(quietZone: quietZone))
        let path = try #require(svg.attributes["path"]?["d"])
        var drawn = Set<[Int]>()
        let pattern = try NSRegularExpression(pattern: #"M(\d+) (\d+)h(\d+)v1h-(\d+)z"#)
        let range = NSRange(path.startIndex..., in: path)
        var covered = 0
        for match in pattern.matches(in: path, range: range) {
            let numbers = (1...4).map { index -> Int in
                Int(path[Range(match.range(at: index), in: path)!]) ?? -1
            }
            #expect(numbers[2] == numbers[3])
            for x in numbers[0]..<numbers[0] + numbers[2] {
                drawn.insert([x - quietZone, numbers[1] - quietZone])
            }
            covered += match.range.length
        }
        #expect(covered == path.utf16.count, "path holds only run subpaths")
        let dark = Set((0..<code.size).flatMap { y in (0..<code.size).filter { code[$0, y] }.map { [$0, y] } })
        #expect(drawn == dark)
    }

    @Test func svgForAPairingCodeStaysSmall() throws {
        let svg = try QRCode.encode(pairingString).svg()
        #expect(svg.utf8.count < 40_000)
    }

    @Test(arguments: [QRCode.TerminalBackground.dark, .light], [0, 1, 4])
    func terminalTextRoundTripsTheModules(background: QRCode.TerminalBackground, quietZone: Int) throws {
        let code = try QRCode.encode("pairgate link")
        let text = code.terminalText(background: background, quietZone: quietZone)
        let extent = code.size + 2 * quietZone
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == (extent + 1) / 2)
        #expect(!text.hasSuffix("\n"))
        for (row, line) in lines.enumerated() {
            let cells = Array(line)
            #expect(cells.count == extent)
            for (column, cell) in cells.enumerated() {
                let x = column - quietZone
                let top = row * 2 - quietZone
                let inkTop = cell == "█" || cell == "▀"
                let inkBottom = cell == "█" || cell == "▄"
                #expect(inkTop == (code[x, top] == (background == .light)))
                // The half row below an odd-height picture is the terminal's own background.
                let bottomInPicture = row * 2 + 1 < extent
                #expect(inkBottom == (bottomInPicture && code[x, top + 1] == (background == .light)))
            }
        }
    }

    @Test func outsideTheSymbolIsLight() throws {
        let code = try QRCode.encode("quiet")
        #expect(!code[-1, 0])
        #expect(!code[0, code.size])
        #expect(!code[Int.min, Int.max])
    }
}

/// The element names, counts and attributes of a small XML document, parsed by XMLParser.
private struct SVGDocument {
    var root: String?
    var elementCounts: [String: Int] = [:]
    var attributes: [String: [String: String]] = [:]

    struct Malformed: Error {
        let reason: String
    }

    init(_ text: String) throws {
        let collector = Collector()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = collector
        guard parser.parse() else {
            throw Malformed(reason: parser.parserError.map(String.init(describing:)) ?? "unknown")
        }
        root = collector.root
        elementCounts = collector.counts
        attributes = collector.attributes
    }

    private final class Collector: NSObject, XMLParserDelegate {
        var root: String?
        var counts: [String: Int] = [:]
        var attributes: [String: [String: String]] = [:]

        func parser(
            _ parser: XMLParser,
            didStartElement elementName: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes attributeDict: [String: String] = [:]
        ) {
            if root == nil {
                root = elementName
            }
            counts[elementName, default: 0] += 1
            attributes[elementName] = attributeDict
        }
    }
}
