import Synchronization

/// Whether python3 on PATH can import a module, asked once per module per test process, on the
/// test thread pool: a synchronous probe in a trait or a test body held one of Swift's two
/// cooperative threads for as long as python3 took to start, which under a loaded machine stalled
/// every other test in the process.
public enum PythonModules {
    private static let probes = Mutex<[String: Task<Bool, Never>]>([:])

    public static func available(_ module: String) async -> Bool {
        let probe = probes.withLock { probes in
            if let probe = probes[module] { return probe }
            let probe = Task<Bool, Never> {
                guard let python = ChildProcess.find("python3") else { return false }
                return (try? await ChildProcess.run(python, ["-c", "import \(module)"]).status) == 0
            }
            probes[module] = probe
            return probe
        }
        return await probe.value
    }
}
