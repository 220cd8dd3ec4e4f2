import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a baseline program and reports what it cost: wall time and its own peak RSS.
///
/// The peak RSS comes from GNU time rather than our wait4: posix_spawn shares this process's memory
/// until exec, and Linux carries that high-water mark into the child's `ru_maxrss`.
struct ChildProcess {
    struct Outcome {
        var exitCode: Int32
        var output: String
        var peakRSSKilobytes: Int
    }

    static func run(_ command: [String], environment: [String: String]) -> Outcome {
        let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)").path
        let memoryPath = outPath + ".rss"
        defer {
            unlink(outPath)
            unlink(memoryPath)
        }
        let arguments = ["/usr/bin/time", "-f", "%M", "-o", memoryPath] + command
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp) == 0 else {
            return Outcome(exitCode: 127, output: "", peakRSSKilobytes: 0)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = FileManager.default.contents(atPath: outPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let memory = FileManager.default.contents(atPath: memoryPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let peak = Int(memory.split(separator: "\n").last.map(String.init) ?? "") ?? 0
        return Outcome(exitCode: (status >> 8) & 0xFF, output: output, peakRSSKilobytes: peak)
    }
}
