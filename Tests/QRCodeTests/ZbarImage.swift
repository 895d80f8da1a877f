import Foundation
import PairgateTestSupport
import QRCode

/// Decodes rendered symbols with zbarimg (Debian: zbar-tools), an independent QR decoder.
enum ZbarImage {
    static let executable: String? = ChildProcess.find("zbarimg")

    static var isAvailable: Bool { executable != nil }

    /// CI sets PAIRGATE_REQUIRE_TOOLS=1 so a missing decoder fails instead of skipping.
    static var isRequired: Bool {
        ProcessInfo.processInfo.environment["PAIRGATE_REQUIRE_TOOLS"] == "1"
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Writes the symbol as a greyscale PGM (zbarimg reads it through ImageMagick) and returns the
    /// bytes zbarimg decoded, without the newline it appends.
    static func decode(_ code: QRCode, pixelsPerModule: Int = 4) async throws -> [UInt8] {
        guard let executable else {
            throw Failure(description: "zbarimg is not installed (apt-get install -y zbar-tools)")
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("qrcode-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let image = directory.appendingPathComponent("symbol.pgm")
        try Data(pgm(code, pixelsPerModule: pixelsPerModule, quietZone: 4)).write(to: image)

        let result = try await ChildProcess.run(executable, ["--raw", "-q", "--nodbus", image.path])
        guard result.status == 0 else {
            throw Failure(description: "zbarimg exited \(result.status): \(result.errorText)")
        }
        let decoded = result.output
        var bytes = [UInt8](decoded)
        if bytes.last == 0x0A {
            bytes.removeLast()
        }
        return bytes
    }

    /// Binary greyscale netpbm: black dark modules, white light ones and margin.
    static func pgm(_ code: QRCode, pixelsPerModule: Int, quietZone: Int) -> [UInt8] {
        let extent = (code.size + 2 * quietZone) * pixelsPerModule
        var bytes = Array("P5\n\(extent) \(extent)\n255\n".utf8)
        bytes.reserveCapacity(bytes.count + extent * extent)
        for row in 0..<extent {
            let y = row / pixelsPerModule - quietZone
            for column in 0..<extent {
                let x = column / pixelsPerModule - quietZone
                bytes.append(code[x, y] ? 0 : 255)
            }
        }
        return bytes
    }
}
