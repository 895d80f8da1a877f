import Foundation
import Hummingbird

/// An RFC 9457 problem document with a stable `code`, the control API's only error shape.
struct ControlProblem: Error, Sendable, Codable, HTTPResponseError {
    var type: String
    var title: String
    var statusCode: Int
    var code: String
    var detail: String?

    init(_ status: HTTPResponse.Status, code: String, title: String, detail: String? = nil) {
        type = "https://pairgate.dev/problems/sim/\(code)"
        self.title = title
        statusCode = status.code
        self.code = code
        self.detail = detail
    }

    /// The HTTP answer to a refused simulator request.
    init(_ error: SimulatorError) {
        let (status, title) = Self.status(for: error.code)
        self.init(status, code: error.code.name, title: title, detail: error.detail)
    }

    private enum CodingKeys: String, CodingKey {
        case type, title, statusCode = "status", code, detail
    }

    var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(self)) ?? Data(#"{"code":"internal"}"#.utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/problem+json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }

    private static func status(for code: SimulatorError.Code) -> (HTTPResponse.Status, String) {
        switch code {
        case .unknownRef, .unknownPhone, .unknownDevice, .noPendingCode, .unknownContact, .unknownGroup:
            (.notFound, "Not found")
        case .pairingRefused:
            (.conflict, "Pairing failed")
        case .phoneInUse:
            (.conflict, "Conflict")
        case .encryptionFailed:
            (.internalServerError, "Encryption failed")
        case .rootKeyFile, .stateFile:
            (.internalServerError, "Simulator storage failed")
        default:
            (.badRequest, "Invalid request")
        }
    }
}
