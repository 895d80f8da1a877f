import Foundation
import Hummingbird

/// The query parameters the pairing routes share, checked as the contract types them (`pairing`
/// a UUID, `expires` Unix seconds) also when a token rather than the signed link opens the route:
/// a malformed value is refused, never ignored.
struct PairingQuery {
    /// The pairing asked for, when the parameter is there.
    var pairingID: UUID?

    init(_ request: Request) throws(APIError) {
        if let text = request.query("pairing") {
            guard let id = UUID(uuidString: text) else { throw APIError.invalid("pairing must be a pairing id") }
            pairingID = id
        }
        if let expires = request.query("expires"), Int64(expires) == nil {
            throw APIError.invalid("expires must be Unix seconds, as in the pairing link")
        }
    }
}
