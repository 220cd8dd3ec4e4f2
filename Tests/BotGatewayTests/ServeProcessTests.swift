import CurlHTTP
import Foundation
import Storage
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `botgateway serve` as an operator runs it: a real process, killed with SIGKILL and started again.
@Suite("botgateway serve as a process", .serialized)
struct ServeProcessTests {
    struct Server {
        let pid: pid_t
        let log: URL

        /// Starts serve and waits for its "serving" log line to learn the port.
        static func start(environment: [String: String]) async throws -> (Server, Int) {
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString).log")
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            var merged = ProcessInfo.processInfo.environment
            for (key, value) in environment { merged[key] = value }
            let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("botgateway").path
            let arguments: [String] = [binary, "serve"]
            let argv = arguments.map { strdup($0) } + [nil]
            let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer {
                argv.forEach { free($0) }
                envp.forEach { free($0) }
            }
            var pid: pid_t = 0
            guard posix_spawn(&pid, binary, &actions, nil, argv, envp) == 0 else { throw LoopbackServerError.didNotStart }
            for _ in 0..<600 {
                try await Task.sleep(for: .milliseconds(50))
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                for line in text.split(separator: "\n") where line.contains("\"msg\":\"serving\"") {
                    if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                       let port = (object["port"] as? String).flatMap(Int.init), port > 0 {
                        return (Server(pid: pid, log: log), port)
                    }
                }
            }
            kill(pid, SIGKILL)
            throw LoopbackServerError.didNotStart
        }

        func kill9() {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }

        func terminate() -> Int32 {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        }
    }

    static func post(_ update: [String: Any], port: Int) async throws -> Int {
        let client = HTTPClient()
        defer { client.shutdown() }
        let response = try await client.send(.json(url: "http://127.0.0.1:\(port)/telegram/webhook", body: try JSONSerialization.data(withJSONObject: update),
                                                   headers: [("X-Telegram-Bot-Api-Secret-Token", GatewayHarness.secret)]))
        return response.status
    }

    @Test("killed with SIGKILL after the ack and restarted, the analysis reply arrives exactly once")
    func sigkillAfterAck() async throws {
        let telegram = try await FakeTelegram.start()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("serve-data-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let environment = [
            "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.baseURL, "TELEGRAM_WEBHOOK_SECRET": GatewayHarness.secret,
            "BOT_ADMIN_IDS": "1", "BOT_PORT": "0", "BOT_DATA_DIR": data.path, "OCR_WORKERS": "1", "LOG_FORMAT": "json", "LOG_LEVEL": "info",
        ]
        // A two-page scan takes long enough to be killed mid-work.
        telegram.addFile(id: "statement", data: try GatewayHarness.fixture("statement-scanned.pdf"))
        let (first, port) = try await Server.start(environment: environment)
        #expect(try await Self.post(Updates.document(update: 1, user: 1, message: 42, file: "statement", name: "statement.pdf",
                                                     mime: "application/pdf", size: 96_797), port: port) == 200)
        #expect(await telegram.waitFor(timeout: .seconds(20)) { $0.contains { $0.text.contains("Job <code>") } })
        first.kill9()
        let analysedBeforeKill = telegram.sentMessages.contains { $0.text.contains("First Harbor Bank") }

        let (second, _) = try await Server.start(environment: environment)
        #expect(await telegram.waitFor(timeout: .seconds(30)) { $0.contains { $0.text.contains("3591.23") } })
        try await Task.sleep(for: .seconds(1))
        #expect(second.terminate() == 0)
        let messages = telegram.messages(to: 1)
        #expect(messages.filter { $0.text.contains("Job <code>") && $0.text.contains("I will reply") }.count == 1)
        #expect(messages.filter { $0.text.contains("3591.23") }.count == 1, "\(messages.map(\.text))")
        #expect(messages.allSatisfy { $0.replyTo == 42 })
        if analysedBeforeKill { Issue.record("the analysis was sent before the kill; the test did not exercise the restart") }
        await telegram.stop()
    }

    @Test("doctor checks tessdata, the database and the Telegram token; a bad token fails it")
    func doctor() async throws {
        let telegram = try await FakeTelegram.start()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("doctor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("botgateway").path
        let good = try runChild([binary, "doctor"], environment: ["TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.baseURL,
                                                                  "BOT_DATA_DIR": data.path])
        #expect(good.code == 0, "\(good.output)")
        #expect(good.output.contains("ok    tessdata: "))
        #expect(good.output.contains("ok    Telegram: the token belongs to @gateway_test_bot"))
        let bad = try runChild([binary, "doctor"], environment: ["TELEGRAM_BOT_TOKEN": "999:wrong", "TELEGRAM_API_BASE_URL": telegram.baseURL,
                                                                 "BOT_DATA_DIR": data.path])
        #expect(bad.code == 1)
        #expect(bad.output.contains("FAIL  Telegram: Telegram refused the call (401): Unauthorized"))
        #expect(!bad.output.contains("999:wrong"))
        await telegram.stop()
    }

    private func runChild(_ arguments: [String], environment: [String: String]) throws -> (code: Int32, output: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("doctor-out-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        guard posix_spawn(&pid, arguments[0], &actions, nil, argv, envp) == 0 else { throw LoopbackServerError.didNotStart }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return ((status >> 8) & 0xFF, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }
}
