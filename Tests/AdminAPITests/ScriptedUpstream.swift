import DevicePool
import Foundation
import Synchronization
import WAClient

/// An upstream whose connections the test drives: every `connect` appears on `sessions`, and the
/// test emits the events the real client would.
final class ScriptedUpstream: UpstreamConnector {
    let sessions: AsyncStream<ScriptedSession>
    private let sink: AsyncStream<ScriptedSession>.Continuation

    init() {
        (sessions, sink) = AsyncStream.makeStream(of: ScriptedSession.self)
    }

    func newCredentials() -> DeviceCredentials {
        var generator = SystemRandomNumberGenerator()
        func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        return DeviceCredentials(
            noiseKey: bytes(32), identityKey: bytes(32), signedPreKeyID: 1, signedPreKey: bytes(32),
            signedPreKeySignature: bytes(64), registrationID: 7, advSecret: bytes(32), preKeySeed: bytes(32)
        )
    }

    func connect(credentials: DeviceCredentials, intent: ConnectionIntent) -> any UpstreamSession {
        let session = ScriptedSession(credentials: credentials, intent: intent)
        sink.yield(session)
        return session
    }
}

final class ScriptedSession: UpstreamSession {
    let credentials: DeviceCredentials
    let intent: ConnectionIntent
    let events: AsyncStream<ClientEvent>
    private let sink: AsyncStream<ClientEvent>.Continuation

    init(credentials: DeviceCredentials, intent: ConnectionIntent) {
        self.credentials = credentials
        self.intent = intent
        (events, sink) = AsyncStream.makeStream(of: ClientEvent.self)
    }

    func emit(_ event: ClientEvent) {
        sink.yield(event)
        switch event {
        case .disconnected, .loggedOut: sink.finish()
        default: break
        }
    }

    func close(reason: DisconnectReason) async {
        emit(.disconnected(reason))
    }

    func logout() async throws {
        emit(.loggedOut(DisconnectReason(stage: .local, category: .loggedOut, detail: "logged out")))
    }

    /// Emits pair-success with an account and waits for the pool's answer.
    @discardableResult
    func pairSuccess(jid: String) async -> Result<Void, any Error> {
        var paired = credentials
        paired.account = PairedAccount(jid: jid, lid: nil, platform: "android", businessName: nil, signedIdentity: [1, 2, 3], keyIndex: 1)
        return await withCheckedContinuation { continuation in
            emit(.pairSuccess(credentials: paired, confirmation: PairingConfirmation { continuation.resume(returning: $0) }))
        }
    }
}
