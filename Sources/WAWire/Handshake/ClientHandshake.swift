import SwiftProtobuf

/// The companion's side of the WhatsApp handshake over frame bodies: ClientHello, then ServerHello → ClientFinish.
///
/// It checks the server's certificate chain against the Noise static key the server proved it holds
/// before sending anything about the companion. Errors from the certificate (`CertificateChainError`)
/// and from Noise (`NoiseError`) pass through unchanged; any error ends the handshake.
public struct ClientHandshake: Sendable {
    /// What a finished handshake hands over to the connection.
    public struct Completion: Sendable {
        /// The ClientFinish body to send; the server's next frame is already encrypted.
        public let clientFinish: [UInt8]
        /// Transport keys and counters for both directions.
        public let transport: NoiseTransport
        /// The server's verified certificates.
        public let certificateChain: CertificateChain
    }

    private enum Step: Sendable {
        case start
        case serverHello
        case done
    }

    private var noise: NoiseHandshake
    private let payload: WAClientPayload
    private let trustedRootKey: [UInt8]
    private var step = Step.start

    /// A handshake for the companion with Noise key `noiseKey` that will present `payload`.
    ///
    /// Pass `ephemeralKey` only to reproduce known vectors; `trustedRootKey` only for test servers.
    public init(
        noiseKey: Curve25519KeyPair,
        payload: WAClientPayload,
        trustedRootKey: [UInt8] = CertificateChain.whatsAppRootKey,
        ephemeralKey: Curve25519KeyPair = .generate()
    ) {
        noise = NoiseHandshake(role: .initiator, staticKeyPair: noiseKey, ephemeralKeyPair: ephemeralKey)
        self.payload = payload
        self.trustedRootKey = trustedRootKey
    }

    /// The ClientHello body, the first frame of the connection (after the intro header).
    public mutating func start() throws(HandshakeError) -> [UInt8] {
        guard step == .start else {
            throw HandshakeError(.outOfOrder)
        }
        step = .serverHello
        return HandshakeFrame.body(of: noise.writeMessage1())
    }

    /// Reads the ServerHello body, verifies the certificate chain at `now` (Unix seconds) and
    /// returns the ClientFinish body with the transport keys.
    public mutating func receiveServerHello(_ body: [UInt8], now: UInt64) throws -> Completion {
        guard step == .serverHello else {
            throw HandshakeError(.outOfOrder)
        }
        // Any failure below leaves the handshake unusable; only success moves it to `.done`.
        step = .done
        let certificates = try noise.readMessage2(HandshakeFrame.serverHello(from: body))
        guard let serverStaticKey = noise.remoteStatic else {
            throw HandshakeError(.outOfOrder)
        }
        let chain = try CertificateChain(
            verifying: certificates, serverStaticKey: serverStaticKey, trustedRootKey: trustedRootKey, now: now
        )
        // Serializing only fails for missing required fields, and our .proto files declare none.
        let finish = try noise.writeMessage3(payload: try! payload.serializedBytes())
        return Completion(
            clientFinish: HandshakeFrame.body(of: finish), transport: noise.split(), certificateChain: chain
        )
    }
}
