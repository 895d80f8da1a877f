import Foundation
import SwiftProtobuf

/// Builds the ClientPayload sent in ClientFinish: a registration for a new companion, a login for a paired one.
///
/// Defaults are the values whatsmeow sends (transport.md §4.2–§4.4); every one can be changed.
public struct ClientPayloadBuilder: Sendable {
    public var version: WebClientVersion = .pinned
    public var platform: WAClientPayload.UserAgent.Platform = .web
    public var releaseChannel: WAClientPayload.UserAgent.ReleaseChannel = .release
    public var mcc = "000"
    public var mnc = "000"
    public var osVersion = "0.1"
    public var osBuildNumber = "0.1"
    /// whatsmeow sends it explicitly empty.
    public var manufacturer = ""
    public var device = "Desktop"
    /// ISO 639-1 language code.
    public var localeLanguage = "en"
    /// ISO 3166-1 alpha-2 country code.
    public var localeCountry = "US"
    public var webSubPlatform: WAClientPayload.WebInfo.WebSubPlatform = .webBrowser
    public var connectType: WAClientPayload.ConnectType = .wifiUnknown
    public var connectReason: WAClientPayload.ConnectReason = .userActivated
    /// What the phone shows for this companion; only sent when registering.
    public var deviceProps: WADeviceProps = ClientPayloadBuilder.defaultDeviceProps

    /// whatsmeow's device properties with Pairgate's name: the history sync it is able to receive.
    public static let defaultDeviceProps: WADeviceProps = {
        var props = WADeviceProps()
        props.os = "Pairgate"
        props.version.primary = 0
        props.version.secondary = 1
        props.version.tertiary = 0
        props.platformType = .unknown
        props.requireFullSync = false
        var history = WADeviceProps.HistorySyncConfig()
        history.storageQuotaMb = 10240
        history.inlineInitialPayloadInE2EeMsg = true
        history.supportCallLogHistory = true
        history.supportBotUserAgentChatHistory = true
        history.supportCagReactionsAndPolls = true
        history.supportBizHostedMsg = true
        history.supportRecentSyncChunkMessageCountTuning = true
        history.supportHostedGroupMsg = true
        history.supportFbidBotChatHistory = true
        history.supportMessageAssociation = true
        history.supportGroupHistory = true
        history.thumbnailSyncDaysLimit = 60
        history.supportManusHistory = true
        history.supportHatchHistory = true
        props.historySyncConfig = history
        return props
    }()

    public init() {}

    /// The payload of a companion that is not paired yet; the server answers with pair-device.
    public func registrationPayload(keys: RegistrationKeys) throws(ClientPayloadError) -> WAClientPayload {
        guard keys.identityKey.count == 32 else {
            throw ClientPayloadError(.identityKeyLength)
        }
        guard keys.signedPreKeyID <= 0xFF_FFFF else {
            throw ClientPayloadError(.signedPreKeyIDOutOfRange)
        }
        guard keys.signedPreKey.count == 32 else {
            throw ClientPayloadError(.signedPreKeyLength)
        }
        guard keys.signedPreKeySignature.count == 64 else {
            throw ClientPayloadError(.signatureLength)
        }
        var pairing = WAClientPayload.DevicePairingRegistrationData()
        pairing.eRegid = Data(Self.bigEndian(keys.registrationID, byteCount: 4))
        pairing.eKeytype = Data([RegistrationKeys.keyType])
        pairing.eIdent = Data(keys.identityKey)
        pairing.eSkeyID = Data(Self.bigEndian(keys.signedPreKeyID, byteCount: 3))
        pairing.eSkeyVal = Data(keys.signedPreKey)
        pairing.eSkeySig = Data(keys.signedPreKeySignature)
        pairing.buildHash = Data(version.buildHash)
        // Serializing only fails for missing required fields, and our .proto files declare none.
        pairing.deviceProps = try! deviceProps.serializedBytes()

        var payload = basePayload()
        // Explicitly false, as whatsmeow sends them: proto2 serializes a set false.
        payload.passive = false
        payload.pull = false
        payload.devicePairingData = pairing
        return payload
    }

    /// The payload of a paired companion, `username` being its phone number and `device` the `:N` of its JID.
    public func loginPayload(username: UInt64, device: UInt32) -> WAClientPayload {
        var payload = basePayload()
        payload.username = username
        payload.device = device
        payload.passive = true
        payload.pull = true
        payload.lidDbMigrated = true
        payload.lc = 1
        return payload
    }

    private func basePayload() -> WAClientPayload {
        var appVersion = WAClientPayload.UserAgent.AppVersion()
        appVersion.primary = version.primary
        appVersion.secondary = version.secondary
        appVersion.tertiary = version.tertiary

        var userAgent = WAClientPayload.UserAgent()
        userAgent.platform = platform
        userAgent.appVersion = appVersion
        userAgent.mcc = mcc
        userAgent.mnc = mnc
        userAgent.osVersion = osVersion
        userAgent.manufacturer = manufacturer
        userAgent.device = device
        userAgent.osBuildNumber = osBuildNumber
        userAgent.releaseChannel = releaseChannel
        userAgent.localeLanguageIso6391 = localeLanguage
        userAgent.localeCountryIso31661Alpha2 = localeCountry

        var webInfo = WAClientPayload.WebInfo()
        webInfo.webSubPlatform = webSubPlatform

        var payload = WAClientPayload()
        payload.userAgent = userAgent
        payload.webInfo = webInfo
        payload.connectType = connectType
        payload.connectReason = connectReason
        return payload
    }

    private static func bigEndian(_ value: UInt32, byteCount: Int) -> [UInt8] {
        (0..<byteCount).reversed().map { byteIndex in UInt8(truncatingIfNeeded: value >> (8 * byteIndex)) }
    }
}
