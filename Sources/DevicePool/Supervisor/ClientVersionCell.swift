import Synchronization

/// The WhatsApp Web version this process announces now, shared by the supervisor and every
/// device actor. It changes at run time (a newer version was found, or an operator set one);
/// a device refused with 405 reports the version that was refused.
final class ClientVersionCell: Sendable {
    private let version: Mutex<String>
    /// Versions WhatsApp refused as outdated; only the newest report waits to be read.
    let outdated: AsyncStream<String>
    private let outdatedSink: AsyncStream<String>.Continuation

    init(_ version: String) {
        self.version = Mutex(version)
        (outdated, outdatedSink) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
    }

    var current: String {
        version.withLock { $0 }
    }

    /// Sets the version; false when it was already this one.
    func set(_ new: String) -> Bool {
        version.withLock { version in
            guard version != new else { return false }
            version = new
            return true
        }
    }

    func reportOutdated(_ refused: String) {
        outdatedSink.yield(refused)
    }
}
