#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A self-pipe that lets another thread interrupt a blocking poll(2) on a libpq socket. Once
/// signalled it stays readable: an interruption is final (a stopping listener, a closing pool).
final class WakePipe: Sendable {
    enum Outcome { case woken, ready, timedOut }
    private let readEnd: Int32
    private let writeEnd: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw PostgresError(.connectionFailed, detail: "pipe() failed: errno \(errno)") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    func signal() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Waits until `socket` has one of `events` (errors and hang-ups count as ready: the caller's
    /// next libpq call reports them), the pipe is signalled, or `timeout` passes; nil waits forever.
    /// A signal delivered to the thread also returns `.ready`: callers re-check and wait again.
    func wait(socket: Int32?, events: Int16 = Int16(POLLIN), timeout: Duration?) -> Outcome {
        var descriptors = [pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)]
        if let socket { descriptors.append(pollfd(fd: socket, events: events, revents: 0)) }
        let millis = timeout.map { Int32(clamping: max(0, $0.wholeMilliseconds)) } ?? -1
        let ready = poll(&descriptors, nfds_t(descriptors.count), millis)
        if ready < 0, errno == EINTR { return .ready }
        if ready <= 0 { return .timedOut }
        if descriptors[0].revents != 0 { return .woken }
        return .ready
    }
}
