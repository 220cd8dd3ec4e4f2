import ArgumentParser
import CurlHTTP
import Foundation
import Storage
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Drives `POST /telegram/webhook` of a real `botgateway serve` from this (second) process on loopback and
/// prints updates/s and latency percentiles. Every update is committed to SQLite before its 200; the run
/// ends by counting the recorded rows. Telegram is the double from TestSupport, on loopback too.
struct WebhookBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "webhook", abstract: "Webhook ingestion: updates/s and p50/p99 latency.")

    @Option(help: "Updates to send.")
    var updates = 20_000

    @Option(help: "Requests in flight at once.")
    var concurrency = 32

    func run() async throws {
        let telegram = try await FakeTelegram.start()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("webhook-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: data) }
        let secret = "bench_secret"
        let server = try await ServeProcess.start(environment: ChildProcess.environment([
            "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE_URL": telegram.baseURL, "TELEGRAM_WEBHOOK_SECRET": secret,
            "BOT_PORT": "0", "BOT_DATA_DIR": data.path, "LOG_FORMAT": "json", "LOG_LEVEL": "info",
        ]))
        let port = server.port
        print("Webhook benchmark: \(updates) updates, \(concurrency) in flight, botgateway serve on 127.0.0.1:\(port), 2 cores shared by both processes")

        let client = HTTPClient()
        defer { client.shutdown() }
        let url = "http://127.0.0.1:\(port)/telegram/webhook"
        let latencies = LatencyLog(capacity: updates)
        let counter = Counter()
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while let index = counter.next(limit: updates) {
                        // Text from a handful of strangers: recorded, handled, mostly not answered (one reply an hour).
                        let body = #"{"update_id":\#(index + 1),"message":{"message_id":\#(index + 1),"from":{"id":\#(1000 + index % 10),"is_bot":false,"first_name":"L"},"chat":{"id":\#(1000 + index % 10),"type":"private"},"date":1700000000,"text":"hello \#(index)"}}"#
                        let sent = ContinuousClock.now
                        let status = (try? await client.send(.json(url: url, body: Data(body.utf8), headers: [("X-Telegram-Bot-Api-Secret-Token", secret)])))?.status ?? 0
                        latencies.record((ContinuousClock.now - sent).seconds * 1000, ok: status == 200)
                    }
                }
            }
        }
        let elapsed = (ContinuousClock.now - started).seconds
        let (sorted, failures) = latencies.sorted()
        func percentile(_ p: Double) -> Double { sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        let database = try AppDatabase(path: data.appendingPathComponent("botgateway.sqlite").path)
        let recorded = try await database.recordedUpdateCount()
        print(String(format: "%.0f updates/s; latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; non-200: %d; recorded in SQLite: %d of %d",
                     Double(updates) / elapsed, percentile(0.5), percentile(0.9), percentile(0.99), sorted.last ?? .nan, failures, recorded, updates))
        print("targets: ≥ 3000 updates/s, p99 < 20 ms")
        _ = await server.terminate()
        await telegram.stop()
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func next(limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            value += 1
            return value - 1
        }
    }
}

final class LatencyLog: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Double] = []
    private var failures = 0

    init(capacity: Int) {
        values.reserveCapacity(capacity)
    }

    func record(_ milliseconds: Double, ok: Bool) {
        lock.withLock {
            values.append(milliseconds)
            if !ok { failures += 1 }
        }
    }

    func sorted() -> ([Double], Int) {
        lock.withLock { (values.sorted(), failures) }
    }
}
