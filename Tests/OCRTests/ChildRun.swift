import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a built binary as a child process and reports its exit code, output and peak RSS.
///
/// The peak RSS comes from GNU time, not from our own wait4: posix_spawn shares this (large) test
/// process's memory until exec, and Linux carries that high-water mark into the child's `ru_maxrss`.
enum ChildRun {
    struct Outcome {
        var exitCode: Int32
        var standardOutput: String
        var standardError: String
        var peakRSSKilobytes: Int
    }

    struct NotBuilt: Error, CustomStringConvertible {
        var path: String
        var description: String { "\(path) is missing: run `swift build --build-tests` before `swift test --skip-build` (scripts/test does)" }
    }

    static func run(_ command: [String], environment extra: [String: String] = [:]) throws -> Outcome {
        guard access(command[0], X_OK) == 0 else { throw NotBuilt(path: command[0]) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out").path, err = folder.appendingPathComponent("err").path
        let memory = folder.appendingPathComponent("rss").path
        let arguments = ["/usr/bin/time", "-f", "%M", "-o", memory] + command
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard spawned == 0 else { throw NotBuilt(path: arguments[0]) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        func read(_ path: String) -> String {
            FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        let code: Int32 = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let peak = Int(read(memory).split(separator: "\n").last.map(String.init) ?? "") ?? 0
        return Outcome(exitCode: code, standardOutput: read(out), standardError: read(err), peakRSSKilobytes: peak)
    }
}
