import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A program run as a child process, as an operator or a script would: for the tests that start
/// `botgateway` and for the benchmarks' baselines. Output goes to files (no pipe to deadlock on).
///
/// Peak RSS comes from GNU time when asked for: posix_spawn shares the parent's memory until exec,
/// and Linux carries that high-water mark into the child's own `ru_maxrss`.
public final class ChildProcess: Sendable {
    public struct Outcome: Sendable {
        public var exitCode: Int32
        public var standardOutput: String
        public var standardError: String
        public var peakRSSKilobytes: Int
    }

    public let pid: pid_t
    private let folder: URL
    private let measured: Bool
    /// The exit code once the child has been reaped: its pid may then belong to another process, so it is not
    /// signalled or waited for again.
    private let ended = Mutex<Int32?>(nil)

    public var standardOutputPath: String { folder.appendingPathComponent("stdout").path }
    public var standardErrorPath: String { folder.appendingPathComponent("stderr").path }

    /// Configuration a developer's shell may carry that would point a test at real services (a real bot,
    /// bucket or LLM account): never inherited; a test that wants one sets it.
    static let serviceVariablePrefixes = ["TELEGRAM_", "S3_", "AWS_", "ANTHROPIC_", "OPENAI_", "ANALYZER", "LLM_", "BOT_", "DATABASE_URL", "BLOB_STORE"]

    /// This process's environment without the gateway's service settings, with `changes` applied (a nil
    /// value removes the variable).
    public static func environment(_ changes: [String: String?] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { variable in
            !serviceVariablePrefixes.contains { variable.key.hasPrefix($0) }
        }
        for (key, value) in changes { environment[key] = value }
        return environment
    }

    /// Starts `arguments[0]` (a path, or a name looked up on the child's PATH) with exactly `environment`.
    public init(_ arguments: [String], environment: [String: String] = ChildProcess.environment(), measureMemory: Bool = false) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        measured = measureMemory
        let command = measureMemory ? ["/usr/bin/time", "-f", "%M", "-o", folder.appendingPathComponent("rss").path] + arguments : arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, folder.appendingPathComponent("stdout").path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, folder.appendingPathComponent("stderr").path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, command[0], &actions, nil, argv, envp)
        guard spawned == 0 else {
            try? FileManager.default.removeItem(at: folder)
            throw ChildProcessError.cannotStart(command[0], spawned)
        }
        self.pid = pid
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Waits for the exit code; a signal shows as 128 + its number.
    public func wait() -> Int32 {
        reap(options: 0) ?? 0
    }

    /// The exit code when the child has ended (reaping it), nil while it runs. Never blocks.
    public func exitCodeIfEnded() -> Int32? {
        reap(options: WNOHANG)
    }

    private func reap(options: Int32) -> Int32? {
        if let code = ended.withLock({ $0 }) { return code }
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, options) } while result == -1 && errno == EINTR
        if result == pid {
            let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            ended.withLock { $0 = code }
            return code
        }
        // ECHILD: another waiter reaped it and records the code a moment later; a blocking wait waits for that
        // rather than answer 0 for a child whose code it never saw.
        for _ in 0..<(options & WNOHANG == 0 && result == -1 ? 1_000 : 0) {
            if let code = ended.withLock({ $0 }) { return code }
            usleep(1_000)
        }
        return ended.withLock { $0 }
    }

    /// `wait()` on a thread of its own: the concurrency pool's few threads may be serving a double the child
    /// talks to, and must never block on a child; nor may the wait queue behind other work on Dispatch's
    /// shared threads (a child left unreaped there stays a zombie and its waiter waits for ever).
    public func exit() async -> Int32 {
        await withCheckedContinuation { continuation in
            let waiter = Thread { continuation.resume(returning: self.wait()) }
            waiter.name = "wait-\(pid)"
            waiter.start()
        }
    }

    /// Sends a signal while the child has not been reaped.
    public func signal(_ number: Int32) {
        ended.withLock { code in
            if code == nil { kill(pid, number) }
        }
    }

    public var standardOutput: String { (try? String(contentsOfFile: standardOutputPath, encoding: .utf8)) ?? "" }
    public var standardError: String { (try? String(contentsOfFile: standardErrorPath, encoding: .utf8)) ?? "" }

    /// GNU time's figure, once the child has exited (0 when not measured).
    public var peakRSSKilobytes: Int {
        guard measured, let text = try? String(contentsOf: folder.appendingPathComponent("rss"), encoding: .utf8) else { return 0 }
        return Int(text.split(separator: "\n").last.map(String.init) ?? "") ?? 0
    }

    /// Runs to completion.
    public static func run(_ arguments: [String], environment: [String: String] = ChildProcess.environment(), measureMemory: Bool = false) throws -> Outcome {
        let child = try ChildProcess(arguments, environment: environment, measureMemory: measureMemory)
        let code = child.wait()
        return Outcome(exitCode: code, standardOutput: child.standardOutput, standardError: child.standardError, peakRSSKilobytes: child.peakRSSKilobytes)
    }

    /// The same, waiting off the concurrency pool: for a child that talks to a server answering on this
    /// process's threads (a test double, a benchmark's peer), which a blocked pool thread could starve.
    public static func runOffPool(_ arguments: [String], environment: [String: String] = ChildProcess.environment(),
                                  measureMemory: Bool = false) async throws -> Outcome {
        try await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { try run(arguments, environment: environment, measureMemory: measureMemory) })
            }
        }.get()
    }

    /// The `botgateway` binary built next to the running test bundle or benchmark.
    public static var botgateway: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("botgateway").path
    }
}

public enum ChildProcessError: Error, CustomStringConvertible {
    case cannotStart(String, Int32)

    public var description: String {
        switch self {
        case .cannotStart(let program, let code): "cannot start \(program) (error \(code)); is it built (swift build --build-tests)?"
        }
    }
}
