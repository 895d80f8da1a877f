import Foundation
import SwiftProtobuf

/// Converts between Noise handshake messages and HandshakeMessage frame bodies, checking untrusted bodies.
public enum HandshakeFrame {
    /// Real handshake bodies stay under a few kilobytes; larger ones are refused before decoding.
    public static let maxBodySize = 16 * 1024

    /// Noise XX keys are 32 bytes; an encrypted one carries a 16-byte AES-GCM tag.
    private static let keySize = 32
    private static let encryptedKeySize = 48

    /// The ClientHello body: only the ephemeral key (WhatsApp sends no payload in message 1).
    public static func body(of message: NoiseHandshake.Message1) -> [UInt8] {
        var frame = WAHandshakeMessage()
        frame.clientHello.ephemeral = Data(message.ephemeral)
        return serialize(frame)
    }

    /// The ServerHello body.
    public static func body(of message: NoiseHandshake.Message2) -> [UInt8] {
        var frame = WAHandshakeMessage()
        frame.serverHello.ephemeral = Data(message.ephemeral)
        frame.serverHello.static = Data(message.encryptedStatic)
        frame.serverHello.payload = Data(message.encryptedPayload)
        return serialize(frame)
    }

    /// The ClientFinish body.
    public static func body(of message: NoiseHandshake.Message3) -> [UInt8] {
        var frame = WAHandshakeMessage()
        frame.clientFinish.static = Data(message.encryptedStatic)
        frame.clientFinish.payload = Data(message.encryptedPayload)
        return serialize(frame)
    }

    /// Reads a ClientHello body; the IK fields (static, payload) are ignored, as the XX handshake has none.
    public static func clientHello(from body: [UInt8]) throws(HandshakeError) -> NoiseHandshake.Message1 {
        let frame = try decode(body)
        guard frame.hasClientHello else {
            throw HandshakeError(.unexpectedMessage)
        }
        let hello = frame.clientHello
        let ephemeral = try ephemeralKey(hello.hasEphemeral, hello.ephemeral)
        return NoiseHandshake.Message1(ephemeral: ephemeral)
    }

    /// Reads a ServerHello body, requiring all three parts as whatsmeow does.
    public static func serverHello(from body: [UInt8]) throws(HandshakeError) -> NoiseHandshake.Message2 {
        let frame = try decode(body)
        guard frame.hasServerHello else {
            throw HandshakeError(.unexpectedMessage)
        }
        let hello = frame.serverHello
        let ephemeral = try ephemeralKey(hello.hasEphemeral, hello.ephemeral)
        let encryptedStatic = try encryptedKey(hello.hasStatic, hello.static)
        guard hello.hasPayload else {
            throw HandshakeError(.missingPayload)
        }
        return NoiseHandshake.Message2(
            ephemeral: ephemeral, encryptedStatic: encryptedStatic, encryptedPayload: [UInt8](hello.payload)
        )
    }

    /// Reads a ClientFinish body.
    public static func clientFinish(from body: [UInt8]) throws(HandshakeError) -> NoiseHandshake.Message3 {
        let frame = try decode(body)
        guard frame.hasClientFinish else {
            throw HandshakeError(.unexpectedMessage)
        }
        let finish = frame.clientFinish
        let encryptedStatic = try encryptedKey(finish.hasStatic, finish.static)
        guard finish.hasPayload else {
            throw HandshakeError(.missingPayload)
        }
        return NoiseHandshake.Message3(encryptedStatic: encryptedStatic, encryptedPayload: [UInt8](finish.payload))
    }

    private static func decode(_ body: [UInt8]) throws(HandshakeError) -> WAHandshakeMessage {
        guard body.count <= maxBodySize else {
            throw HandshakeError(.tooLarge)
        }
        do {
            return try WAHandshakeMessage(serializedBytes: body)
        } catch {
            throw HandshakeError(.malformed)
        }
    }

    private static func ephemeralKey(_ isPresent: Bool, _ bytes: Data) throws(HandshakeError) -> [UInt8] {
        guard isPresent else {
            throw HandshakeError(.missingEphemeral)
        }
        guard bytes.count == keySize else {
            throw HandshakeError(.ephemeralLength)
        }
        return [UInt8](bytes)
    }

    private static func encryptedKey(_ isPresent: Bool, _ bytes: Data) throws(HandshakeError) -> [UInt8] {
        guard isPresent else {
            throw HandshakeError(.missingStatic)
        }
        guard bytes.count == encryptedKeySize else {
            throw HandshakeError(.staticLength)
        }
        return [UInt8](bytes)
    }

    // Serializing only fails for missing required fields, and our .proto files declare none.
    private static func serialize(_ frame: WAHandshakeMessage) -> [UInt8] {
        try! frame.serializedBytes()
    }
}
