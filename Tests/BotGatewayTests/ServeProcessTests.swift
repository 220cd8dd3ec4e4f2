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
        let first = try await ServeProcess.start(environment: ChildProcess.environment(environment))
        let port = first.port
        #expect(try await Self.post(Updates.document(update: 1, user: 1, message: 42, file: "statement", name: "statement.pdf",
                                                     mime: "application/pdf", size: 96_797), port: port) == 200)
        #expect(await telegram.waitFor(timeout: .seconds(20)) { $0.contains { $0.text.contains("Job <code>") } })
        await first.kill9()
        let analysedBeforeKill = telegram.sentMessages.contains { $0.text.contains("First Harbor Bank") }

        let second = try await ServeProcess.start(environment: ChildProcess.environment(environment))
        // Generous: under the whole suite's load the restarted process reads the two pages on a shared core.
        #expect(await telegram.waitFor(timeout: .seconds(120)) { $0.contains { $0.text.contains("3591.23") } })
        try await Task.sleep(for: .seconds(1))
        #expect(await second.terminate() == 0)
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
        let good = try await ChildProcess.runOffPool([ChildProcess.botgateway, "doctor"], environment: ChildProcess.environment([
            "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.baseURL, "BOT_DATA_DIR": data.path]))
        #expect(good.exitCode == 0, "\(good.standardOutput)")
        #expect(good.standardOutput.contains("ok    tessdata: "))
        #expect(good.standardOutput.contains("ok    Telegram: the token belongs to @gateway_test_bot"))
        let bad = try await ChildProcess.runOffPool([ChildProcess.botgateway, "doctor"], environment: ChildProcess.environment([
            "TELEGRAM_BOT_TOKEN": "999:wrong", "TELEGRAM_API_BASE_URL": telegram.baseURL, "BOT_DATA_DIR": data.path]))
        #expect(bad.exitCode == 1)
        #expect(bad.standardOutput.contains("FAIL  Telegram: Telegram refused the call (401): Unauthorized"))
        #expect(!(bad.standardOutput + bad.standardError).contains("999:wrong"))
        await telegram.stop()
    }

    @Test("batch --chat sends the report to the chat; without a token it is a usage error")
    func batchToChat() async throws {
        let telegram = try await FakeTelegram.start()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("batch-chat-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let inbox = root.appendingPathComponent("inbox")
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        try GatewayHarness.fixture("receipt.jpg").write(to: inbox.appendingPathComponent("receipt.jpg"))
        let environment = ["BOT_DATA_DIR": root.appendingPathComponent("data").path, "OCR_WORKERS": "1", "LOG_LEVEL": "error"]
        let sent = try await ChildProcess.runOffPool([ChildProcess.botgateway, "batch", inbox.path, "--chat", "77"], environment: ChildProcess.environment(
            environment.merging(["TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.baseURL]) { $1 }))
        #expect(sent.exitCode == 0, "\(sent.standardError)")
        let document = try #require(telegram.sentMessages.first { $0.method == "sendDocument" })
        #expect(document.chatID == 77)
        #expect(document.text.contains("1 documents analysed, 0 failed"))
        var withoutToken: [String: String?] = environment
        withoutToken["TELEGRAM_BOT_TOKEN"] = .some(nil)
        let missing = try await ChildProcess.runOffPool([ChildProcess.botgateway, "batch", inbox.path, "--chat", "77"],
                                           environment: ChildProcess.environment(withoutToken))
        #expect(missing.exitCode == 2)
        #expect(missing.standardError.contains("TELEGRAM_BOT_TOKEN"))
        await telegram.stop()
    }
}
