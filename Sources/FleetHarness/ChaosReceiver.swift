import Foundation
import Synchronization
import WAWire
import Webhooks

/// The chaos run's webhook receiver (docs/chaos.md): one endpoint per tenant at `/hooks/<n>`,
/// answering as its mood of the moment says — healthy, slow, failing, flapping, or slow past the
/// gateways' response timeout — with moods drawn from the run's seed. Never 410: the run's
/// endpoints must stay enabled.
final class ChaosReceiver: Sendable {
    enum Mood: String, CaseIterable, Sendable {
        /// 200 or 204 at once.
        case healthy
        /// 200 after 0.2 to 1.5 s.
        case slow
        /// 500, 502, 503, or 429 with Retry-After: 1.
        case failing
        /// Every other answer, at random, is a 503.
        case flapping
        /// A quarter of the answers come after 6 s, past the gateways' 5 s response timeout.
        case timeouts
    }

    /// The gateways' settings that make retries and expired claims fit a run of minutes.
    static let gatewayEnvironment = [
        "PAIRGATE_WEBHOOKS_ALLOW_PRIVATE": "true", "PAIRGATE_WEBHOOKS_RETRY_BASE_SECONDS": "1", "PAIRGATE_WEBHOOKS_RETRY_CAP_SECONDS": "4",
        "PAIRGATE_WEBHOOKS_CONNECT_TIMEOUT_SECONDS": "2", "PAIRGATE_WEBHOOKS_RESPONSE_TIMEOUT_SECONDS": "5", "PAIRGATE_WEBHOOKS_CLAIM_SECONDS": "10",
    ]

    static let events = ["device.state", "device.logged_out", "pairing.updated", "pairing.ended", "endpoint.disabled"]

    private struct State {
        var mood = Mood.healthy
        var random: SeededRandom
        var secrets: [String: [WebhookSecret]] = [:]
        var tenants: [UUID: String] = [:]
        var moods: [String: Int] = [:]
    }

    private let state: Mutex<State>
    private let receiver = Mutex<WebhookReceiver?>(nil)

    private init(seed: UInt64) {
        state = Mutex(State(random: SeededRandom(seed: seed)))
    }

    static func start(seed: UInt64) async throws -> ChaosReceiver {
        let chaos = ChaosReceiver(seed: seed)
        let receiver = try await WebhookReceiver.start { _ in chaos.answer() }
        chaos.receiver.withLock { $0 = receiver }
        return chaos
    }

    private var webhookReceiver: WebhookReceiver? { receiver.withLock { $0 } }

    /// Registers the receiver for `tenant` (the n-th) through the API.
    func register(_ tenant: GatewayClient.Tenant, index: Int, client: GatewayClient) async throws {
        let path = "/hooks/\(index)"
        let url = webhookReceiver?.url(path: path) ?? ""
        let (_, secret) = try await client.createWebhook(tenant, url: url, events: Self.events)
        let parsed = try WebhookSecret(parsing: secret)
        state.withLock { state in
            state.secrets[path] = [parsed]
            if let id = UUID(uuidString: tenant.id) { state.tenants[id] = path }
        }
    }

    var mood: Mood {
        get { state.withLock { $0.mood } }
        set { state.withLock { $0.mood = newValue } }
    }

    /// Changes mood every `period` until cancelled, then turns healthy.
    func playMoods(period: Duration) async {
        defer { mood = .healthy }
        while !Task.isCancelled {
            state.withLock { state in
                state.mood = Mood.allCases[Int.random(in: 0..<Mood.allCases.count, using: &state.random)]
                state.moods[state.mood.rawValue, default: 0] += 1
            }
            do { try await Task.sleep(for: period) } catch { return }
        }
    }

    /// Moods played, by name.
    var moodsPlayed: [String: Int] { state.withLock { $0.moods } }

    /// Tenant → its endpoint's path.
    var paths: [UUID: String] { state.withLock { $0.tenants } }

    /// Every request, with whether its signature verified.
    func received() -> [FleetInvariants.ReceivedWebhook] {
        guard let receiver = webhookReceiver else { return [] }
        let secrets = state.withLock { $0.secrets }
        return receiver.received.map { request in
            FleetInvariants.ReceivedWebhook(
                path: request.path, id: request.id, accepted: request.accepted,
                authentic: WebhookReceiver.verify(request, secrets: secrets[request.path] ?? []) == nil, body: request.body
            )
        }
    }

    func stop() async {
        await webhookReceiver?.stop()
    }

    private func answer() -> WebhookReceiver.Answer {
        state.withLock { state in
            switch state.mood {
            case .healthy:
                return .status(Bool.random(using: &state.random) ? 200 : 204)
            case .slow:
                return .delayed(.milliseconds(Int64.random(in: 200...1500, using: &state.random)), status: 200)
            case .failing:
                switch Int.random(in: 0..<4, using: &state.random) {
                case 0: return .status(500)
                case 1: return .status(502)
                case 2: return .status(429, retryAfter: 1)
                default: return .status(503)
                }
            case .flapping:
                return .status(Bool.random(using: &state.random) ? 200 : 503)
            case .timeouts:
                return Int.random(in: 0..<4, using: &state.random) == 0 ? .delayed(.seconds(6), status: 200) : .status(200)
            }
        }
    }
}
