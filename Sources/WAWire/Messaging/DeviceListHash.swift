import Crypto
import Foundation

/// whatsmeow's `participantListHashV2`: the `phash` of a send and the `device_hash`/`dhash` of device
/// notifications (messaging.md §7.2, §8.5).
public enum DeviceListHash {
    /// `2:` + unpadded base64 of the first 6 bytes of SHA-256 over the devices written `user.agent:device@server`,
    /// sorted bytewise and concatenated.
    public static func v2(_ devices: [JID]) -> String {
        let joined = devices.map { Array($0.fullDeviceString.utf8) }
            .sorted { $0.lexicographicallyPrecedes($1) }
            .joined()
        let digest = Array(SHA256.hash(data: Array(joined)).prefix(6))
        // Six bytes are exactly eight base64 characters: there is no padding to strip.
        return "2:" + Data(digest).base64EncodedString()
    }
}
