import ArgumentParser
import CurlHTTP
import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A bounded soak of a real `botgateway serve` against the Telegram double on loopback: several chats send
/// documents and commands while Telegram misbehaves (5xx bursts, 429s, a download that keeps failing and a
/// slow one for one chat, a full outage) and the bot is killed with SIGKILL and started again. It counts what
/// every chat got back: each document's result exactly once, nothing lost, nothing duplicated, and the p99
/// reply latency per chat. Not part of the test run (`scripts/soak`).
struct SoakBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "soak", abstract: "Faults, restarts and many chats: lost, duplicated, p99 per chat.")

    @Option(help: "Seconds of traffic (faults are placed over this span); the run then waits up to 120 s for replies.")
    var seconds = 90

    @Option(help: "Chats sending at once; chat 1 gets the per-chat faults.")
    var chats = 6

    @Flag(help: "Leave out chat 1's own faults (failing and slow downloads): the baseline for the other chats' latency.")
    var noChatFaults = false

    struct Sent: Sendable {
        var chat: Int64
        var message: Int64
        var isDocument: Bool
        var at: ContinuousClock.Instant
    }

    func run() async throws {
        let telegram = try await FakeTelegram.start()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("soak-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: data) }
        let environment = ChildProcess.environment([
            "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.baseURL, "TELEGRAM_WEBHOOK_SECRET": "soak_secret",
            "BOT_ADMIN_IDS": (1...Int64(chats)).map(String.init).joined(separator: ","), "BOT_PORT": "0", "BOT_DATA_DIR": data.path,
            "LOG_FORMAT": "json", "LOG_LEVEL": "info", "BOT_REPLY_MAX_BACKOFF_SECONDS": "2",
        ])
        let server = ServerBox(try await ServeProcess.start(environment: environment))
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fixtures = try ["receipt.jpg", "invoice.png", "letter.png"].map { try Data(contentsOf: root.appendingPathComponent("fixtures/\($0)")) }
        print("Soak: \(chats) chats for \(seconds) s against botgateway serve (port \(server.current.port)); 2 cores shared with the double")

        let log = SentLog()
        let client = HTTPClient()
        defer { client.shutdown() }
        let started = ContinuousClock.now
        let accepted = Counter()
        let faults = FaultWindows()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await injectFaults(telegram: telegram, server: server, environment: environment, started: started, faults: faults) }
            for chat in 1...Int64(chats) {
                group.addTask {
                    await sendTraffic(chat: chat, telegram: telegram, server: server, client: client, fixtures: fixtures,
                                      until: started + .seconds(seconds), log: log, accepted: accepted)
                }
            }
        }

        // Wait for every update to be answered (results may be retrying through the backoff).
        let sent = log.all
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let messages = telegram.sentMessages
            if sent.allSatisfy({ !Self.answers($0, in: messages).isEmpty }) { break }
            try? await Task.sleep(for: .seconds(1))
        }
        try? await Task.sleep(for: .seconds(3))
        let code = await server.current.terminate()
        let failed = report(sent: sent, messages: telegram.sentMessages, accepted: accepted.next(limit: .max) ?? 0, faults: faults)
        print("serve exit code at the end (SIGTERM): \(code)")
        print("targets: 0 lost, 0 duplicated; no chat's p99 raised by another chat's faults by more than 1 s")
        await telegram.stop()
        if failed { throw ExitCode(1) }
    }

    /// The global faults, at fixed fractions of the run; each one's window (with its recovery) is noted, so
    /// chats can be compared outside them.
    private func injectFaults(telegram: FakeTelegram, server: ServerBox, environment: [String: String],
                              started: ContinuousClock.Instant, faults: FaultWindows) async {
        let span = Double(seconds)
        func at(_ fraction: Double) async { try? await Task.sleep(until: started + .milliseconds(Int(span * fraction * 1000)), clock: .continuous) }
        await at(0.15); print("  fault: 5xx burst on sendMessage"); telegram.fail("sendMessage", times: 6, code: 502)
        faults.add(seconds: 6)
        await at(0.25); print("  fault: 429s on sendMessage"); telegram.fail("sendMessage", times: 3, code: 429, retryAfter: 1)
        faults.add(seconds: 6)
        await at(0.40); print("  fault: Telegram unreachable for 8 s"); telegram.setUnavailable(true)
        faults.add(seconds: 8 + 12)
        try? await Task.sleep(for: .seconds(8)); telegram.setUnavailable(false)
        await at(0.65); print("  fault: SIGKILL and restart")
        faults.add(seconds: 15)
        await server.restart(environment)
    }

    /// One chat: a document every third message, `/help` otherwise, each posted until the webhook takes it.
    private func sendTraffic(chat: Int64, telegram: FakeTelegram, server: ServerBox, client: HTTPClient, fixtures: [Data],
                             until end: ContinuousClock.Instant, log: SentLog, accepted: Counter) async {
        var message: Int64 = 0
        while ContinuousClock.now < end {
            message += 1
            let isDocument = message % 3 == 1
            var body: [String: Any] = ["message_id": message, "from": ["id": chat, "is_bot": false, "first_name": "S"],
                                       "chat": ["id": chat, "type": "private"], "date": 1_700_000_000, "text": "/help"]
            if isDocument {
                let file = "c\(chat)-m\(message)"
                // Distinct bytes per upload: each is its own document.
                telegram.addFile(id: file, data: fixtures[Int(message) % fixtures.count] + Data("\(file)".utf8))
                if chat == 1, !noChatFaults {
                    telegram.failDownload(fileID: file, times: 3)
                    if message == 4 { telegram.slowDownload(fileID: file, bytesPerSecond: 8_000) }
                }
                body["text"] = nil
                body["document"] = ["file_id": file, "file_unique_id": "u" + file, "file_name": "\(file).bin",
                                    "mime_type": "image/jpeg", "file_size": 60_000]
            }
            let json = (try? JSONSerialization.data(withJSONObject: ["update_id": chat * 1_000_000 + message, "message": body])) ?? Data()
            let sentAt = ContinuousClock.now
            // As Telegram does: deliver again until a 2xx (the bot may be restarting).
            while ContinuousClock.now < end + .seconds(30) {
                let url = "http://127.0.0.1:\(server.current.port)/telegram/webhook"
                if let status = try? await client.send(.json(url: url, body: json, headers: [("X-Telegram-Bot-Api-Secret-Token", "soak_secret")],
                                                              timeout: .seconds(5))).status, status == 200 {
                    _ = accepted.next(limit: .max)
                    break
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
            log.add(Sent(chat: chat, message: message, isDocument: isDocument, at: sentAt))
            try? await Task.sleep(for: .milliseconds(Int.random(in: 2_000...4_000)))
        }
    }

    /// The replies to one update: a command's answer, or a document's result (not its acknowledgement).
    static func answers(_ item: Sent, in messages: [FakeTelegram.Sent]) -> [FakeTelegram.Sent] {
        messages.filter { $0.chatID == item.chat && $0.replyTo == item.message
            && (item.isDocument ? ($0.method == "sendDocument" || !$0.text.contains("I will reply")) : true) }
    }

    /// Prints what each chat got back; true when a document's result was lost or sent twice.
    private func report(sent: [Sent], messages: [FakeTelegram.Sent], accepted: Int, faults: FaultWindows) -> Bool {
        let documents = sent.filter(\.isDocument)
        var once = 0, lost: [String] = [], duplicated: [String] = []
        for item in documents {
            let results = Self.answers(item, in: messages)
            switch results.count {
            case 1: once += 1
            case 0: lost.append("chat \(item.chat) message \(item.message)")
            default: duplicated.append("chat \(item.chat) message \(item.message) ×\(results.count)")
            }
        }
        let commandsUnanswered = sent.filter { !$0.isDocument && Self.answers($0, in: messages).isEmpty }.count
        print("updates accepted: \(accepted) (200s from the webhook), sent: \(sent.count)")
        print("documents: \(documents.count); results delivered exactly once: \(once); lost: \(lost.count); duplicated: \(duplicated.count)")
        print("commands: \(sent.count - documents.count); unanswered: \(commandsUnanswered)")
        if !lost.isEmpty { print("  lost: \(lost.joined(separator: ", "))") }
        if !duplicated.isEmpty { print("  duplicated: \(duplicated.joined(separator: ", "))") }
        print("reply latency per chat, from the post to the first reply (commands: the answer; documents: the result)"
              + (noChatFaults ? ", no per-chat faults:" : "; chat 1 has failing and slow downloads:"))
        func figures(_ items: [Sent]) -> String {
            let latencies = items.compactMap { item in Self.answers(item, in: messages).first.map { ($0.at - item.at).seconds } }.sorted()
            guard !latencies.isEmpty else { return "none" }
            func p(_ q: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))] }
            return String(format: "%d p50 %.2f p99 %.2f", latencies.count, p(0.5), p(0.99))
        }
        // Outside the global faults (outage, restart, 5xx, 429 and their recovery) only the chat's own faults remain.
        func summary(_ items: [Sent]) -> String { figures(items) + " | outside global faults " + figures(items.filter { !faults.covers($0.at) }) }
        for chat in 1...Int64(chats) {
            let mine = sent.filter { $0.chat == chat }
            print("  chat \(chat): commands \(summary(mine.filter { !$0.isDocument }))")
            print("          results  \(summary(mine.filter(\.isDocument)))")
        }
        return !lost.isEmpty || !duplicated.isEmpty
    }
}

/// The running server, swapped on restart (read by every chat's poster).
final class ServerBox: @unchecked Sendable {
    private let lock = NSLock()
    private var server: ServeProcess

    init(_ server: ServeProcess) {
        self.server = server
    }

    var current: ServeProcess { lock.withLock { server } }

    /// SIGKILL, then a new process on the same data folder, which must resume what the killed one took in.
    func restart(_ environment: [String: String]) async {
        await current.kill9()
        if let next = try? await ServeProcess.start(environment: environment) { lock.withLock { server = next } }
    }
}

/// When the global faults were on, with their recovery: updates sent from 2 s before one began to its end.
final class FaultWindows: @unchecked Sendable {
    private let lock = NSLock()
    private var windows: [(start: ContinuousClock.Instant, end: ContinuousClock.Instant)] = []

    func add(seconds: Int) {
        let now = ContinuousClock.now
        lock.withLock { windows.append((now - .seconds(2), now + .seconds(seconds))) }
    }

    func covers(_ instant: ContinuousClock.Instant) -> Bool {
        lock.withLock { windows.contains { $0.start <= instant && instant <= $0.end } }
    }
}

final class SentLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [SoakBenchmark.Sent] = []

    func add(_ item: SoakBenchmark.Sent) {
        lock.withLock { items.append(item) }
    }

    var all: [SoakBenchmark.Sent] { lock.withLock { items } }
}
