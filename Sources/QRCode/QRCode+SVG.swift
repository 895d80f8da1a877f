extension QRCode {
    /// An SVG image: black modules on an explicit white background (dark-mode pages must not show
    /// through), `moduleSize` pixels per module, with a light margin of `quietZone` modules.
    public func svg(moduleSize: Int = 8, quietZone: Int = 4) -> String {
        let margin = max(quietZone, 0)
        let extent = size + 2 * margin
        let pixels = extent * max(moduleSize, 1)
        // One path in module units, one subpath per horizontal run of dark modules.
        var path = ""
        for y in 0..<size {
            var x = 0
            while x < size {
                guard self[x, y] else {
                    x += 1
                    continue
                }
                let start = x
                while self[x, y] {
                    x += 1
                }
                path += "M\(start + margin) \(y + margin)h\(x - start)v1h-\(x - start)z"
            }
        }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(pixels)\" height=\"\(pixels)\""
            + " viewBox=\"0 0 \(extent) \(extent)\" shape-rendering=\"crispEdges\">"
            + "<rect width=\"\(extent)\" height=\"\(extent)\" fill=\"#fff\"/>"
            + "<path fill=\"#000\" d=\"\(path)\"/></svg>"
    }
}
