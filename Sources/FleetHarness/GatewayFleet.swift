import Synchronization

/// The gateway processes of a chaos run by instance id, and a client for any live one.
final class GatewayFleet: Sendable {
    private let configuration: GatewayProcess.Configuration
    private let workDirectory: String
    private let onStart: @Sendable (GatewayProcess) -> Void
    private let gateways = Mutex<[String: GatewayProcess]>([:])
    /// An instance whose database traffic is blackholed: its API is not asked anything.
    private let partitioned = Mutex<String?>(nil)

    /// `onStart` sees every gateway started, so that the run can stop it whatever happens.
    init(configuration: GatewayProcess.Configuration, workDirectory: String, onStart: @escaping @Sendable (GatewayProcess) -> Void) {
        self.configuration = configuration
        self.workDirectory = workDirectory
        self.onStart = onStart
    }

    /// Starts `instance`, on `databaseURL` instead of the fleet's when given (through a proxy).
    func start(_ instance: String, databaseURL: String? = nil) async throws {
        var configuration = self.configuration
        if let databaseURL { configuration.databaseURL = databaseURL }
        let gateway = try await GatewayProcess.start(instanceID: instance, configuration: configuration, workDirectory: workDirectory)
        onStart(gateway)
        gateways.withLock { $0[instance] = gateway }
    }

    func gateway(_ instance: String) -> GatewayProcess? { gateways.withLock { $0[instance] } }

    var running: [GatewayProcess] {
        gateways.withLock { $0.values.filter { !$0.process.hasExited }.sorted { $0.instanceID < $1.instanceID } }
    }

    func setPartitioned(_ instance: String?) {
        partitioned.withLock { $0 = instance }
    }

    /// A client of a running gateway (the first by instance id that is not cut off from the database).
    func client() throws -> GatewayClient {
        let avoided = partitioned.withLock { $0 }
        guard let gateway = running.first(where: { $0.instanceID != avoided }) ?? running.first else {
            throw FleetHarnessError("no gateway is running")
        }
        return GatewayClient(baseURL: gateway.baseURL, adminToken: configuration.adminToken)
    }
}
