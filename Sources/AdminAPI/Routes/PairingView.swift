import DevicePool
import Foundation
import HTTPTypes
import QRCode

/// A pairing as POST /pair, GET /status and the pairing page show it.
struct PairingView: Encodable, Sendable {
    var pairingID: String
    var deviceID: String
    var method: PairingMethodKind
    /// `waiting` (no QR or code yet), `showing`, or `ended`.
    var status: String
    var qr: String?
    var code: String?
    /// When the QR or code on show is replaced.
    var codeExpiresAt: Date?
    /// When the pairing ends at the latest.
    var expiresAt: Date
    var outcome: PairingOutcome?
    var detail: String?
    var eventsURL: String
    var qrSvgURL: String
    /// The signed page link (absolute), for the phone's owner; no API token needed.
    var pageURL: String?

    init(pairingID: UUID, deviceID: UUID, method: PairingMethodKind, deadline: Date, latest: PairingUpdate?, outcome: PairingUpdate?) {
        let id = pairingID.uuidString.lowercased()
        self.pairingID = pairingID.api
        self.deviceID = deviceID.api
        self.method = method
        status = "waiting"
        expiresAt = deadline
        eventsURL = "/pair/events?pairing=\(id)"
        qrSvgURL = "/pair/qr.svg?pairing=\(id)"
        if case .ended(let result, let detail)? = outcome {
            status = "ended"
            self.outcome = result
            self.detail = detail
            return
        }
        switch latest {
        case .qr(let code, let expiresAt)?:
            status = "showing"
            qr = code
            codeExpiresAt = expiresAt
        case .code(let code, let expiresAt)?:
            status = "showing"
            self.code = code
            codeExpiresAt = expiresAt
        default:
            break
        }
    }

    /// A QR code drawn by our encoder, as the API and the page serve it.
    static func svg(_ code: String) throws -> String {
        do {
            return try QRCode.encode(code).svg(moduleSize: 6, quietZone: 4)
        } catch {
            throw APIError(.internalServerError, .qrEncodingFailed, "The QR code could not be drawn")
        }
    }
}
