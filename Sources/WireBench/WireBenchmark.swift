import Crypto
import WAWire

/// Handshake, curve and transport figures of the wire layer (`pairgate bench wire`).
public enum WireBenchmark {
    /// Runs every measurement for about `seconds` each.
    public static func run(seconds: Double = 1) throws -> WireBenchResult {
        var result = WireBenchResult()
        try measureHandshake(seconds: seconds, withCertificates: false, into: &result)
        try measureHandshake(seconds: seconds, withCertificates: true, into: &result)
        for size in [1024, 16 * 1024] {
            try measureTransport(size: size, seconds: seconds, into: &result)
        }
        result.figures += try NodeBenchmark.run(minimumDuration: .seconds(seconds / 2))
        return result
    }

    // MARK: Handshake

    /// Full XX handshakes with both sides in this process, against their curve work alone. With
    /// certificates, the server sends a chain issued by a test root and the client verifies it as
    /// in production (two curve signature checks).
    private static func measureHandshake(seconds: Double, withCertificates: Bool, into result: inout WireBenchResult) throws {
        let clientStatic = Curve25519KeyPair.generate()
        let serverStatic = Curve25519KeyPair.generate()
        let root = Curve25519KeyPair.generate()
        let intermediate = Curve25519KeyPair.generate()
        let now: UInt64 = 1_800_000_000
        let chain = CertificateChain.issue(
            rootKey: root, intermediateKey: intermediate, serverStaticKey: serverStatic.publicKey,
            notBefore: now - 86_400, notAfter: now + 86_400)
        let clientPayload = [UInt8](repeating: 0x24, count: 200)

        let ephemeralA = Curve25519KeyPair.generate(), ephemeralB = Curve25519KeyPair.generate()
        let details = [UInt8](repeating: 0x11, count: 120)
        let signature = CurveSignature.sign(details, privateKey: root.privateKey)
        let verifications = withCertificates ? 2 : 0

        var sink = 0
        var handshakeRates: [Double] = [], curveRates: [Double] = []
        for _ in 0..<rounds {
            handshakeRates.append(try rate(seconds: seconds / Double(rounds), &sink) { _ in
                var client = NoiseHandshake(role: .initiator, staticKeyPair: clientStatic)
                var server = NoiseHandshake(role: .responder, staticKeyPair: serverStatic)
                try server.readMessage1(client.writeMessage1())
                let received = try client.readMessage2(server.writeMessage2(payload: chain))
                if withCertificates, let remote = client.remoteStatic {
                    _ = try CertificateChain(verifying: received, serverStaticKey: remote, trustedRootKey: root.publicKey, now: now)
                }
                _ = try server.readMessage3(client.writeMessage3(payload: clientPayload))
                _ = client.split()
                _ = server.split()
            })
            // The same curve work alone: each side's three agreements, and the chain's signatures.
            curveRates.append(try rate(seconds: seconds / Double(rounds), &sink) { sink in
                sink &+= Int(try ephemeralA.sharedSecret(with: ephemeralB.publicKey)[0])
                sink &+= Int(try ephemeralA.sharedSecret(with: serverStatic.publicKey)[0])
                sink &+= Int(try clientStatic.sharedSecret(with: ephemeralB.publicKey)[0])
                sink &+= Int(try ephemeralB.sharedSecret(with: ephemeralA.publicKey)[0])
                sink &+= Int(try serverStatic.sharedSecret(with: ephemeralA.publicKey)[0])
                sink &+= Int(try ephemeralB.sharedSecret(with: clientStatic.publicKey)[0])
                for _ in 0..<verifications where CurveSignature.isValid(signature, for: details, publicKey: root.publicKey) {
                    sink &+= 1
                }
            })
        }
        let keyGenerations = rate(seconds: seconds / 2, &sink) { sink in
            sink &+= Int(Curve25519KeyPair.generate().publicKey[0])
        }
        precondition(sink != -1)  // Keeps the measured work observable.

        let handshakes = median(handshakeRates), curveOperations = median(curveRates)
        let name = withCertificates ? "noise.handshake_with_certificates" : "noise.handshake"
        result.figures += [
            .init(name: name, value: handshakes, unit: "handshakes/s"),
            .init(name: "\(name).curve_ops", value: curveOperations, unit: "sets/s"),
            .init(
                name: "\(name).over_curve_ops", value: median(zip(curveRates, handshakeRates).map { $0 / $1 }),
                unit: "x", target: "<= 1.5"),
            // Each handshake also creates two ephemeral keys (a base-point multiplication each).
            .init(
                name: "\(name).over_curve_ops_and_ephemeral_keys",
                value: (1 / handshakes) / (1 / curveOperations + 2 / keyGenerations), unit: "x"),
        ]
        if !withCertificates {
            result.figures.append(.init(name: "x25519.key_generation", value: keyGenerations, unit: "keys/s"))
        }
    }

    // MARK: Transport

    private static func measureTransport(size: Int, seconds: Double, into result: inout WireBenchResult) throws {
        var client = NoiseHandshake(role: .initiator, staticKeyPair: .generate())
        var server = NoiseHandshake(role: .responder, staticKeyPair: .generate())
        try server.readMessage1(client.writeMessage1())
        _ = try client.readMessage2(server.writeMessage2(payload: []))
        _ = try server.readMessage3(client.writeMessage3(payload: []))
        var transports = (sender: client.split(), receiver: server.split())
        let buffer = [UInt8](repeating: 0x5A, count: size)

        let key = SymmetricKey(size: .bits256)
        let nonce = AES.GCM.Nonce()
        var unused = 0
        // Alternate short rounds of both so that load from other processes hits both alike.
        var noiseRates: [Double] = [], rawRates: [Double] = []
        for _ in 0..<rounds {
            noiseRates.append(try rate(seconds: seconds / Double(rounds), &transports) { transports in
                _ = try transports.receiver.decrypt(transports.sender.encrypt(buffer))
            })
            rawRates.append(try rate(seconds: seconds / Double(rounds), &unused) { _ in
                _ = try AES.GCM.open(AES.GCM.seal(buffer, using: key, nonce: nonce), using: key)
            })
        }
        let noise = median(noiseRates), raw = median(rawRates)
        let ratio = median(zip(noiseRates, rawRates).map { $0 / $1 })
        let megabytes = Double(size) / 1_000_000
        let label = "transport.\(size / 1024)kib"
        result.figures += [
            .init(name: "\(label).noise", value: noise * megabytes, unit: "MB/s"),
            .init(name: "\(label).aes_gcm_raw", value: raw * megabytes, unit: "MB/s"),
            .init(name: "\(label).ratio", value: ratio, unit: "x", target: ">= 0.8"),
        ]
    }

    // MARK: Timing

    /// Rounds per comparison; the median of their ratios resists bursts of load from elsewhere.
    private static let rounds = 5

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// Runs `body` in batches until `seconds` have passed (after a short warm-up); returns runs/s.
    /// Mutable state goes through `state` rather than captured variables, which would add dynamic
    /// exclusivity checks to every run.
    private static func rate<State>(
        seconds: Double, _ state: inout State, _ body: (inout State) throws -> Void
    ) rethrows -> Double {
        let clock = ContinuousClock()
        let warmUpEnd = clock.now.advanced(by: .seconds(seconds / 10))
        while clock.now < warmUpEnd {
            try body(&state)
        }
        let start = clock.now
        let end = start.advanced(by: .seconds(seconds))
        var runs = 0
        repeat {
            for _ in 0..<8 {
                try body(&state)
            }
            runs += 8
        } while clock.now < end
        return Double(runs) / (clock.now - start).seconds
    }
}
