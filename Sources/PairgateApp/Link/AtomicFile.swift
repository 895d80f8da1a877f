import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Whole-file replacement that a crash cannot tear: the bytes go to `<path>.tmp` (mode 0600),
/// are fsynced, renamed over `path`, and the folder is fsynced so the rename itself is durable.
/// A reader finds the old file or the new one, never a mix; `pairgate link` keeps its credentials
/// and its Signal state this way.
enum AtomicFile {
    /// Replaces `path` with `data`, readable and writable by the owner only.
    static func replace(_ path: String, with data: Data) throws(LinkFileError) {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw LinkFileError(.notWritten, path: temporary, errno: errno)
        }
        // An older temporary file may have had another mode: the keys never sit in a readable file.
        var failure: Int32? = fchmod(descriptor, 0o600) == 0 ? nil : errno
        if failure == nil {
            failure = data.withUnsafeBytes { bytes -> Int32? in
                var offset = 0
                while offset < bytes.count {
                    let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    offset += written
                }
                return nil
            }
        }
        if failure == nil, fsync(descriptor) != 0 {
            failure = errno
        }
        close(descriptor)
        if let failure {
            unlink(temporary)
            throw LinkFileError(.notWritten, path: temporary, errno: failure)
        }
        guard rename(temporary, path) == 0 else {
            let failure = errno
            unlink(temporary)
            throw LinkFileError(.notWritten, path: path, errno: failure)
        }
        let folder = (path as NSString).deletingLastPathComponent
        let directory = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            defer { close(directory) }
            guard fsync(directory) == 0 else {
                throw LinkFileError(.notWritten, path: folder, errno: errno)
            }
        }
    }
}

/// Why one of `pairgate link`'s files could not be read or written.
struct LinkFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier for the kind of failure.
    struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case notWritten = "not_written"
            case unreadable
            case preKeyConsumedTwice = "prekey_consumed_twice"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The file (or its temporary copy, or its folder) could not be written and synced.
        static let notWritten = Code(.notWritten)
        /// The file exists but does not hold what it should.
        static let unreadable = Code(.unreadable)
        /// A commit consumed a one-time prekey that was consumed before: nothing was written.
        static let preKeyConsumedTwice = Code(.preKeyConsumedTwice)

        var description: String { base.rawValue }
    }

    let code: Code
    let path: String
    /// What went wrong, without the file's contents.
    let detail: String

    init(_ code: Code, path: String, detail: String) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    init(_ code: Code, path: String, errno: Int32) {
        self.init(code, path: path, detail: String(cString: strerror(errno)))
    }

    var description: String { "\(path): \(code): \(detail)" }
}
