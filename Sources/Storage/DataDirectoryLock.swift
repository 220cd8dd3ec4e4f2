import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive claim on a data folder for the life of a process: `serve` takes it so a second `serve` on
/// the same `BOT_DATA_DIR` refuses to start instead of downloading, processing and answering everything
/// twice. It is an `flock` on `BOT_DATA_DIR/serve.lock`: the kernel releases it when the process ends in any
/// way, SIGKILL included, so there is never a stale lock to clean up.
public final class DataDirectoryLock: Sendable {
    public let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Takes the lock or says who holds it.
    public static func acquire(dataDirectory: URL) throws(StorageError) -> DataDirectoryLock {
        let path = dataDirectory.appendingPathComponent("serve.lock").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .databaseUnavailable(path: path, reason: String(cString: strerror(errno))) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            throw .inUse(path: dataDirectory.path, holder: holder.flatMap { $0.isEmpty ? nil : $0 })
        }
        // Who holds it, for the refusal message of the next one (informative only; the flock is the lock).
        let pid = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        return DataDirectoryLock(path: path, descriptor: descriptor)
    }

    deinit {
        close(descriptor)
    }
}

/// Free space where the data folder lives, for `/readyz` and `/metrics`.
public enum DiskSpace {
    /// Bytes an unprivileged process may still write under `directory`; nil when it cannot be told.
    public static func available(at directory: URL) -> Int64? {
        var info = statvfs()
        guard statvfs(directory.path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}
