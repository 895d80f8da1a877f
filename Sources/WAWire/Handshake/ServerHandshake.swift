/// The server's side of the WhatsApp handshake over frame bodies, as the simulator runs it.
///
/// It answers a ClientHello with its static key and certificate chain, then decrypts and checks
/// the ClientPayload. Noise (`NoiseError`) and payload (`ClientPayloadError`) errors pass through
/// unchanged; any error ends the handshake.
public struct ServerHandshake: Sendable {
    /// What a finished handshake hands over to the connection.
    public struct Completion: Sendable {
        /// The companion's registration or login.
        public let clientPayload: ParsedClientPayload
        /// The companion's Noise static key, which a login must match with the paired device's.
        public let clientStaticKey: [UInt8]
        /// Transport keys and counters for both directions.
        public let transport: NoiseTransport
    }

    private enum Step: Sendable {
        case clientHello
        case clientFinish
        case done
    }

    private var noise: NoiseHandshake
    private let certificateChain: [UInt8]
    private var step = Step.clientHello

    /// A handshake for a server with Noise key `staticKey` presenting `certificateChain` (serialized,
    /// e.g. from `CertificateChain.issue`). Pass `ephemeralKey` only to reproduce known vectors.
    public init(staticKey: Curve25519KeyPair, certificateChain: [UInt8], ephemeralKey: Curve25519KeyPair = .generate()) {
        noise = NoiseHandshake(role: .responder, staticKeyPair: staticKey, ephemeralKeyPair: ephemeralKey)
        self.certificateChain = certificateChain
    }

    /// Reads the ClientHello body and returns the ServerHello body.
    public mutating func receiveClientHello(_ body: [UInt8]) throws -> [UInt8] {
        guard step == .clientHello else {
            throw HandshakeError(.outOfOrder)
        }
        step = .done
        try noise.readMessage1(HandshakeFrame.clientHello(from: body))
        let hello = try noise.writeMessage2(payload: certificateChain)
        step = .clientFinish
        return HandshakeFrame.body(of: hello)
    }

    /// Reads the ClientFinish body: decrypts, size-checks and classifies the ClientPayload.
    public mutating func receiveClientFinish(_ body: [UInt8]) throws -> Completion {
        guard step == .clientFinish else {
            throw HandshakeError(.outOfOrder)
        }
        step = .done
        let payload = try noise.readMessage3(HandshakeFrame.clientFinish(from: body))
        guard let clientStaticKey = noise.remoteStatic else {
            throw HandshakeError(.outOfOrder)
        }
        return Completion(
            clientPayload: try ParsedClientPayload(parsing: payload),
            clientStaticKey: clientStaticKey,
            transport: noise.split()
        )
    }
}
