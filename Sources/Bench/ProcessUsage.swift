import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CPU time and memory of processes, read from `/proc`: what the benchmarks print per upload or per job.
enum ProcessUsage {
    /// A process's user and system CPU time so far, in seconds; with `reapedChildren`, its children's that have
    /// ended too (a server's finished connection processes).
    static func cpuSeconds(_ pid: pid_t, reapedChildren: Bool = false) -> Double {
        guard let fields = statFields(pid) else { return 0 }
        // After the command: state is field 3, ppid 4, utime 14, stime 15, cutime 16, cstime 17 (1-based over the line).
        let times = (11...(reapedChildren ? 14 : 12)).compactMap { Double(fields[$0]) }
        return times.reduce(0, +) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The CPU time of a server and every process it started, living or ended, in seconds.
    static func treeCPUSeconds(_ pid: pid_t) -> Double {
        let children = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }.filter { child in
            statFields(child).map { $0[1] == String(pid) } ?? false
        }
        return cpuSeconds(pid, reapedChildren: true) + children.reduce(0) { $0 + cpuSeconds($1) }
    }

    /// The fields of `/proc/PID/stat` after the command, from the state on.
    private static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 14 ? fields : nil
    }

    /// A process's resident set, in kB (0 when it cannot be read).
    static func rss(_ pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }
}
