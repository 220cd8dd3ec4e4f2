@testable import BotGateway
import Foundation
import TestSupport
import Testing

/// The wake-up between the gateway's loops. A wait says whether a fire woke it, so no test bounds time from
/// above (a loaded machine may run a task late); only waits that must not end early are timed.
@Suite("Nudge")
struct NudgeTests {
    @Test("a wait with nothing fired lasts its timeout, every time: a timed-out wait does not make the next return at once")
    func timeouts() async {
        let nudge = Nudge()
        let started = ContinuousClock.now
        for _ in 0..<5 { #expect(await nudge.wait(timeout: .milliseconds(60)) == false) }
        #expect(ContinuousClock.now - started >= .milliseconds(300))
    }

    @Test("a fire with nobody waiting wakes the next wait at once; many fires coalesce into one")
    func coalesce() async {
        let nudge = Nudge()
        for _ in 0..<3 { nudge.fire() }
        #expect(await nudge.wait(timeout: .seconds(30)))
        let second = ContinuousClock.now
        #expect(await nudge.wait(timeout: .milliseconds(200)) == false)
        #expect(ContinuousClock.now - second >= .milliseconds(200))
    }

    @Test("a fire wakes every waiting task at once; a cancelled wait returns")
    func wakesWaiters() async {
        let nudge = Nudge()
        let woken = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<3 { group.addTask { await nudge.wait(timeout: .seconds(60)) } }
            while nudge.waiting < 3 { try? await Task.sleep(for: .milliseconds(10)) }
            nudge.fire()
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(woken == [true, true, true])

        let waiting = Task { await nudge.wait(timeout: .seconds(60)) }
        while nudge.waiting < 1 { try? await Task.sleep(for: .milliseconds(10)) }
        waiting.cancel()
        #expect(await waiting.value == false)
        #expect(nudge.waiting == 0)
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
