@testable import BotGateway
import Foundation
import TestSupport
import Testing

/// The wake-up between the gateway's loops. Only lower bounds on time are asserted (a wait that must not
/// return early), and upper bounds far above what any machine needs.
@Suite("Nudge")
struct NudgeTests {
    @Test("a wait with nothing fired lasts its timeout, every time: a timed-out wait does not make the next return at once")
    func timeouts() async {
        let nudge = Nudge()
        let started = ContinuousClock.now
        for _ in 0..<5 { await nudge.wait(timeout: .milliseconds(60)) }
        #expect(ContinuousClock.now - started >= .milliseconds(300))
    }

    @Test("a fire with nobody waiting wakes the next wait at once; many fires coalesce into one")
    func coalesce() async {
        let nudge = Nudge()
        for _ in 0..<3 { nudge.fire() }
        let started = ContinuousClock.now
        await nudge.wait(timeout: .seconds(30))
        #expect(ContinuousClock.now - started < .seconds(10))
        let second = ContinuousClock.now
        await nudge.wait(timeout: .milliseconds(200))
        #expect(ContinuousClock.now - second >= .milliseconds(200))
    }

    @Test("a fire wakes every waiting task at once; a cancelled wait returns")
    func wakesWaiters() async {
        let nudge = Nudge()
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { await nudge.wait(timeout: .seconds(30)) } }
            while nudge.waiting < 3 { try? await Task.sleep(for: .milliseconds(10)) }
            nudge.fire()
        }
        #expect(ContinuousClock.now - started < .seconds(10))

        let waiting = Task { await nudge.wait(timeout: .seconds(30)) }
        while nudge.waiting < 1 { try? await Task.sleep(for: .milliseconds(10)) }
        let cancelled = ContinuousClock.now
        waiting.cancel()
        await waiting.value
        #expect(ContinuousClock.now - cancelled < .seconds(10))
    }

    @Test("an idle serve does not spin: its CPU time over three idle seconds stays far below the wall time")
    func idleServe() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("idle-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let serve = try await ServeProcess.start(environment: ChildProcess.environment([
            "TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_SECRET": GatewayHarness.secret, "BOT_DATA_DIR": data.path, "BOT_PORT": "0",
            "OCR_WORKERS": "1", "LOG_FORMAT": "json", "LOG_LEVEL": "info"]))
        try await Task.sleep(for: .seconds(1))
        let before = try Self.cpuSeconds(pid: serve.child.pid)
        try await Task.sleep(for: .seconds(3))
        let used = try Self.cpuSeconds(pid: serve.child.pid) - before
        #expect(await serve.terminate() == 0)
        // Idle loops poll a few times a second; spinning used a whole core (about 3 s here).
        #expect(used < 1.0, "an idle serve used \(used) s of CPU in 3 s")
    }

    /// User plus system time of a process, from /proc.
    static func cpuSeconds(pid: pid_t) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
        let ticks = Double(try #require(Int(fields[11]))) + Double(try #require(Int(fields[12])))
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
