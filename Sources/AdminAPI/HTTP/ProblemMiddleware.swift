import Foundation
import Hummingbird
import Logging
import NIOCore
import PostgresClient
import PostgresStore

/// Turns every failure into a problem document with a stable code: our own errors, the store's
/// refusals of bad input, a database that cannot be reached (503 with Retry-After, logged),
/// Hummingbird's (404, 413, …), body decoding errors, and anything unexpected (500, logged, never
/// detailed). A path that exists under other methods is 405 with Allow.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let methods: AllowedMethods

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.problem.response(headers: error.headers)
        } catch let refusal as StoreError {
            let error = APIError(refusal)
            return error.problem.response(headers: error.headers)
        } catch let failure as PostgresError {
            guard let error = APIError(unavailable: failure) else {
                context.logger.error("request failed", metadata: ["error": "\(failure)"])
                return Problem(status: .internalServerError, code: "internal", title: "Internal error").response()
            }
            context.logger.warning("a database call failed", metadata: ["error": "\(failure)"])
            return error.problem.response(headers: error.headers)
        } catch is NIOTooManyBytesError {
            return Problem.bodyTooLarge.response()
        } catch let error as HTTPError {
            return problem(for: error, request: request).response(headers: error.status == .notFound ? allowHeader(request) : [:])
        } catch is DecodingError {
            return Problem(status: .badRequest, code: "invalid_json", title: "The body is not the JSON this route expects").response()
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return Problem(status: .internalServerError, code: "internal", title: "Internal error").response()
        }
    }

    private func problem(for error: HTTPError, request: Request) -> Problem {
        switch error.status {
        case .notFound:
            if let allowed = methods.allowed(for: request.uri.path) {
                return Problem(
                    status: .methodNotAllowed, code: "method_not_allowed", title: "Method not allowed",
                    detail: "\(request.method.rawValue) is not allowed here; use \(allowed.map(\.rawValue).joined(separator: ", "))"
                )
            }
            return Problem(status: .notFound, code: "not_found", title: "Not found")
        case .contentTooLarge:
            return .bodyTooLarge
        case .badRequest:
            return Problem(status: .badRequest, code: "bad_request", title: "Bad request")
        default:
            return Problem(status: error.status, code: "http_\(error.status.code)", title: error.status.reasonPhrase)
        }
    }

    private func allowHeader(_ request: Request) -> HTTPFields {
        guard let allowed = methods.allowed(for: request.uri.path) else { return [:] }
        return [.allow: allowed.map(\.rawValue).joined(separator: ", ")]
    }
}
