import Crypto
import CryptoExtras
import Foundation

/// AES-256-CBC with PKCS#7 padding, the body cipher of `msg`, `pkmsg` and `skmsg`.
enum MessageBodyCipher {
    static func encrypt(_ plaintext: [UInt8], key: [UInt8], iv: [UInt8]) throws(SignalError) -> [UInt8] {
        do {
            let ciphertext = try AES._CBC.encrypt(plaintext, using: SymmetricKey(data: key), iv: AES._CBC.IV(ivBytes: iv))
            return Array(ciphertext)
        } catch {
            throw SignalError(.invalidKey)
        }
    }

    /// Refuses a ciphertext that is not whole blocks or whose padding is wrong (`invalid_message`).
    static func decrypt(_ ciphertext: [UInt8], key: [UInt8], iv: [UInt8]) throws(SignalError) -> [UInt8] {
        guard !ciphertext.isEmpty, ciphertext.count % 16 == 0 else {
            throw SignalError(.invalidMessage)
        }
        do {
            let plaintext = try AES._CBC.decrypt(ciphertext, using: SymmetricKey(data: key), iv: AES._CBC.IV(ivBytes: iv))
            return Array(plaintext)
        } catch {
            throw SignalError(.invalidMessage)
        }
    }
}
