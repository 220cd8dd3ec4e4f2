import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a helper program (poppler's tools) with a deadline, capturing its output in files.
/// Called only from engine threads, so the blocking wait never touches the concurrency pool.
struct ToolProcess {
    struct Outcome {
        var exitCode: Int32
        var standardOutput: Data
        var standardError: String
    }

    enum Failure: Error {
        case notFound(String)
        case spawnFailed(String, Int32)
        case timedOut
    }

    static func run(_ executable: String, _ arguments: [String], in directory: URL, deadline: ContinuousClock.Instant) throws(Failure) -> Outcome {
        guard let path = resolve(executable) else { throw .notFound(executable) }
        let outPath = directory.appendingPathComponent("stdout-\(UUID().uuidString)").path
        let errPath = directory.appendingPathComponent("stderr-\(UUID().uuidString)").path
        defer {
            unlink(outPath)
            unlink(errPath)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else { throw .spawnFailed(executable, spawned) }

        var status: Int32 = 0
        var pause: UInt32 = 500
        while true {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid { break }
            if waited == -1 && errno != EINTR { break }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw .timedOut
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        let exited = status & 0x7F == 0
        let code: Int32 = exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let output = FileManager.default.contents(atPath: outPath) ?? Data()
        let errors = FileManager.default.contents(atPath: errPath).map { String(decoding: $0.prefix(4096), as: UTF8.self) } ?? ""
        return Outcome(exitCode: code, standardOutput: output, standardError: errors)
    }

    /// Finds a program on PATH (and in /usr/bin when PATH is bare, as under some service managers).
    static func resolve(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        return folders.lazy.map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }
}
