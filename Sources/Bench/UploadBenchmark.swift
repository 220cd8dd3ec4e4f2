import ArgumentParser
import CurlHTTP
import Foundation
import Storage
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Drives `POST /api/v1/documents` of a real `botgateway serve --no-workers` from this (second) process on
/// loopback: distinct 200 kB JPEGs, each stored (fsynced into the document store and committed with its job)
/// before its 202. Prints uploads/s, latency percentiles and the server's RSS before and after; the run ends
/// by counting the jobs in SQLite.
struct UploadBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "upload", abstract: "API uploads: uploads/s, p50/p99 latency, server RSS.")

    @Option(help: "Uploads to send.")
    var uploads = 5_000

    @Option(help: "Requests in flight at once.")
    var concurrency = 32

    @Option(help: "Bytes per upload.")
    var size = 200_000

    func run() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("upload-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: data) }
        let environment = ChildProcess.environment([
            "TELEGRAM_BOT_TOKEN": "123456:bench", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9", "TELEGRAM_WEBHOOK_SECRET": "bench_secret",
            "BOT_PORT": "0", "BOT_DATA_DIR": data.path, "LOG_FORMAT": "json", "LOG_LEVEL": "info",
            "API_MAX_UPLOAD_MB": "\(max(1, size / 1_000_000 + 1))",
        ])
        let created = try ChildProcess.run([ChildProcess.botgateway, "tokens", "create", "bench", "--scope", "upload,read", "--rate-limit", "100000",
                                            "--daily-quota", "100000000"], environment: environment)
        guard created.exitCode == 0, let token = created.standardOutput.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { $0.hasPrefix("bgw_") }) else {
            throw ValidationError("could not make a token: \(created.standardError)")
        }
        let server = try await ServeProcess.start(environment: environment, arguments: ["--no-workers"])
        let port = server.port
        print("Upload benchmark: \(uploads) distinct \(size / 1000) kB JPEGs, \(concurrency) in flight, botgateway serve --no-workers on 127.0.0.1:\(port), "
              + "2 cores shared by both processes")
        // A real JPEG's first bytes (the format is checked on them), then filler and the upload's number.
        let head = try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/receipt.jpg")).prefix(4096)
        let template = head + Data(repeating: 0x20, count: max(0, size - head.count))

        let client = HTTPClient()
        defer { client.shutdown() }
        let url = "http://127.0.0.1:\(port)/api/v1/documents?filename=scan.jpg"
        let warmup = 200
        let rssBefore = ProcessUsage.rss(server.child.pid)
        var cpuBefore = 0.0, clientBefore = 0.0
        let latencies = LatencyLog(capacity: uploads)
        let counter = Counter()
        var started = ContinuousClock.now
        for phase in 0..<2 {
            let total = phase == 0 ? warmup : warmup + uploads
            if phase == 1 {
                started = ContinuousClock.now
                cpuBefore = ProcessUsage.cpuSeconds(server.child.pid)
                clientBefore = ProcessUsage.cpuSeconds(getpid())
            }
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        while let index = counter.next(limit: total) {
                            var body = template
                            body.replaceSubrange(body.count - 16..<body.count, with: Data(String(format: "%016d", index).utf8))
                            let sent = ContinuousClock.now
                            let status = (try? await client.send(HTTPClientRequest(method: "POST", url: url, headers: [
                                ("Authorization", "Bearer \(token)"), ("Content-Type", "image/jpeg"),
                            ], body: .data(body))))?.status ?? 0
                            if index >= warmup { latencies.record((ContinuousClock.now - sent).seconds * 1000, ok: status == 202) }
                        }
                    }
                }
            }
        }
        let elapsed = (ContinuousClock.now - started).seconds
        let rssAfter = ProcessUsage.rss(server.child.pid)
        let serverCPU = ProcessUsage.cpuSeconds(server.child.pid) - cpuBefore, clientCPU = ProcessUsage.cpuSeconds(getpid()) - clientBefore
        let (sorted, failures) = latencies.sorted()
        func percentile(_ p: Double) -> Double { sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        _ = await server.terminate()
        let database = try AppDatabase(path: data.appendingPathComponent("botgateway.sqlite").path)
        let stored = try await database.jobs(state: .queued, limit: uploads + warmup + 10).count
        print(String(format: "%.0f uploads/s (%.0f MB/s); latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; non-202: %d; jobs in SQLite: %d of %d",
                     Double(uploads) / elapsed, Double(uploads * size) / elapsed / 1_000_000, percentile(0.5), percentile(0.9), percentile(0.99),
                     sorted.last ?? .nan, failures, stored, uploads + warmup))
        print("server RSS: \(rssBefore / 1024) MB after start, \(rssAfter / 1024) MB after the run")
        print(String(format: "CPU per upload: server %.2f ms, this client %.2f ms (2 cores: %.0f uploads/s is the ceiling at that cost)",
                     serverCPU / Double(uploads) * 1000, clientCPU / Double(uploads) * 1000, 2 / ((serverCPU + clientCPU) / Double(uploads))))
        print("targets: ≥ 1000 uploads/s, p99 < 50 ms, RSS flat")
    }
}
