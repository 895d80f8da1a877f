/// Why the supervisor refused a request. `description` says what happened in general terms;
/// the owner's name is only in `debugDescription`.
public struct SupervisorError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case shuttingDown = "shutting_down"
            case notHere = "device_not_owned_here"
            case unknownDevice = "unknown_device"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The gateway is shutting down and starts nothing new.
        public static let shuttingDown = Code(.shuttingDown)
        /// Another live instance runs the device; `owner` names it, so the caller can route there.
        public static let notHere = Code(.notHere)
        public static let unknownDevice = Code(.unknownDevice)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The instance that runs the device, for `notHere`.
    public var owner: String?
    public var file: String
    public var line: Int

    public init(_ code: Code, owner: String? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.owner = owner
        self.file = file
        self.line = line
    }

    public var description: String {
        switch code {
        case .shuttingDown: "the gateway is shutting down"
        case .notHere: "the device is connected by another instance"
        case .unknownDevice: "no such device"
        default: "supervisor error: \(code)"
        }
    }

    public var debugDescription: String {
        "\(description) (\(code)\(owner.map { ", owner \($0)" } ?? "")) [\(file):\(line)]"
    }
}
