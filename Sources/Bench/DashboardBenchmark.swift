import ArgumentParser
import CurlHTTP
import Foundation
import Storage
import TestSupport

/// Render times of the dashboard's pages with a large history: fills a SQLite store with `--jobs` jobs (spread
/// over 60 days, some done, some failed, the rest queued, each document with text), starts a real
/// `botgateway serve --no-workers` on it, signs in through a `dashboard-link`, and requests each page in turn
/// from this process. The API's JSON job list over the same store is timed alongside, as the obvious
/// alternative to a rendered page.
struct DashboardBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dashboard", abstract: "Dashboard pages: p50/p99 render time with a large job history.")

    @Option(help: "Jobs in the store.")
    var jobs = 100_000

    @Option(help: "Requests per page.")
    var requests = 200

    static let words = ["invoice", "receipt", "total", "amount", "payment", "contract", "insurance", "policy", "delivery", "order", "tax", "account",
                        "statement", "balance", "customer", "supplier", "office", "market", "street", "service", "monthly", "annual", "number", "date"]

    func run() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: data) }
        let filled = ContinuousClock.now
        let sample = try await fill(data.appendingPathComponent("botgateway.sqlite").path)
        print("Dashboard benchmark: \(jobs) jobs (\(sample.done) done, \(sample.failed) failed, the rest queued) over 60 days, "
              + "filled in \(String(format: "%.0f", (ContinuousClock.now - filled) / .seconds(1))) s; \(requests) requests per page, one at a time, "
              + "botgateway serve --no-workers, 2 cores shared by both processes")

        let environment = ChildProcess.environment([
            "TELEGRAM_BOT_TOKEN": "123456:bench", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9", "TELEGRAM_WEBHOOK_SECRET": "bench_secret",
            "BOT_PORT": "0", "BOT_DATA_DIR": data.path, "BOT_ADMIN_IDS": "1", "LOG_FORMAT": "json", "LOG_LEVEL": "info",
        ])
        let created = try ChildProcess.run([ChildProcess.botgateway, "tokens", "create", "bench", "--scope", "read,admin", "--rate-limit", "100000"],
                                           environment: environment)
        guard created.exitCode == 0, let apiToken = created.standardOutput.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { $0.hasPrefix("bgw_") }) else {
            throw ValidationError("could not make a token: \(created.standardError)")
        }
        let server = try await ServeProcess.start(environment: environment, arguments: ["--no-workers"])
        defer { Task { _ = await server.terminate() } }
        let base = "http://127.0.0.1:\(server.port)"
        let client = HTTPClient()
        defer { client.shutdown() }

        // Signed in the way the first admin does it.
        let link = try ChildProcess.run([ChildProcess.botgateway, "dashboard-link"], environment: environment)
        guard link.exitCode == 0, let token = link.standardOutput.components(separatedBy: "t=").last?.trimmingCharacters(in: .whitespacesAndNewlines) else {
            throw ValidationError("no sign-in link: \(link.standardError)")
        }
        let signIn = try await client.send(HTTPClientRequest(method: "POST", url: base + "/admin/signin",
                                                             headers: [("Content-Type", "application/x-www-form-urlencoded")], body: .data(Data("t=\(token)".utf8))))
        guard let cookie = signIn.headers.first(where: { $0.name.lowercased() == "set-cookie" })?.value.split(separator: ";").first.map(String.init) else {
            throw ValidationError("sign-in refused: \(signIn.status)")
        }

        let pages: [(String, String, [(name: String, value: String)])] = [
            ("jobs list, first page", "/admin/jobs", [("Cookie", cookie)]),
            ("jobs list, a page deep in history", "/admin/jobs?before=\(sample.middleID)", [("Cookie", cookie)]),
            ("jobs list, failed only", "/admin/jobs?state=failed", [("Cookie", cookie)]),
            ("jobs list, one user, one month", "/admin/jobs?user=7&from=\(sample.monthStart)&to=\(sample.monthEnd)", [("Cookie", cookie)]),
            ("document page", "/admin/documents/\(sample.sha)", [("Cookie", cookie)]),
            ("job page", "/admin/jobs/\(sample.code)", [("Cookie", cookie)]),
            ("overview (charts over all 100k)", "/admin", [("Cookie", cookie)]),
            ("search", "/admin/documents?q=insurance+policy", [("Cookie", cookie)]),
            ("API JSON job list (50), the alternative", "/api/v1/jobs?limit=50", [("Authorization", "Bearer \(apiToken)")]),
        ]
        var results: [String: (p50: Double, p99: Double)] = [:]
        print("\(pad("page", 42)) \(pad("p50 ms", 8)) \(pad("p99 ms", 8)) bytes")
        for (name, path, headers) in pages {
            var times: [Double] = []
            var bytes = 0
            for index in 0..<(requests + 20) {
                let started = ContinuousClock.now
                let response = try await client.send(HTTPClientRequest(url: base + path, headers: headers))
                let elapsed = (ContinuousClock.now - started) / .milliseconds(1)
                guard response.status == 200 else { throw ValidationError("\(path) answered \(response.status)") }
                bytes = response.body.count
                if index >= 20 { times.append(elapsed) }
            }
            times.sort()
            let p50 = times[times.count / 2], p99 = times[min(times.count - 1, Int(Double(times.count) * 0.99))]
            results[name] = (p50, p99)
            print("\(pad(name, 42)) \(pad(String(format: "%.2f", p50), 8)) \(pad(String(format: "%.2f", p99), 8)) \(bytes)")
        }
        if let html = results["jobs list, first page"], let json = results["API JSON job list (50), the alternative"] {
            print(String(format: "jobs page vs the API's JSON list of the same 50 jobs: %.2f× the p50", html.p50 / json.p50))
        }
        let worst = ["jobs list, first page", "jobs list, a page deep in history", "document page"].compactMap { results[$0]?.p99 }.max() ?? .nan
        print("target: p99 < 100 ms for the jobs list and a document page: " + (worst < 100 ? "met" : "NOT met") + String(format: " (worst p99 %.1f ms)", worst))
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    struct Sample {
        var done = 0
        var failed = 0
        var middleID: Int64 = 0
        var sha = ""
        var code = ""
        var monthStart = ""
        var monthEnd = ""
    }

    /// The store, filled as a gateway would have: documents with text, jobs of three origins and a few users.
    private func fill(_ path: String) async throws -> Sample {
        let store = try AppDatabase(path: path)
        let now = Date().timeIntervalSince1970
        var generator = SystemRandomNumberGenerator()
        var sample = Sample()
        let batch = 1_000
        var made = 0
        while made < jobs {
            var items: [(document: DocumentRecord, request: JobRequest)] = []
            for index in made..<min(jobs, made + batch) {
                let sha = String(format: "%064x", index + 1)
                let text = (0..<60).map { _ in Self.words.randomElement(using: &generator)! }.joined(separator: " ")
                let document = DocumentRecord(sha256: sha, format: "png", mimeType: "image/png", size: 120_000, blobPath: "blobs/\(sha)",
                                              originalName: "scan-\(index).png", pages: 1, ocrText: text, createdAt: now)
                let origin: JobOrigin = index % 3 == 0 ? .api : index % 3 == 1 ? .telegram : .batch
                let user: Int64? = origin == .telegram ? Int64(index % 20 + 1) : nil
                // No chat: the gateway has no replies to send for them while it is measured.
                items.append((document, JobRequest(origin: origin, sourceName: "scan-\(index).png", userID: user, sourceKey: "bench:\(index)")))
            }
            // Oldest first, spread over 60 days up to now.
            let createdAt = now - 60 * 86_400 * (1 - Double(made) / Double(jobs))
            _ = try await store.enqueue(items, steps: ["ocr", "analyze"], now: createdAt)
            made += items.count
        }
        // About one job in thirty fails (cancelled), and 10,000 of the rest are done (the oldest first, as workers take them).
        sample.failed = try await store.cancelJobs(JobFilter(origin: .api, createdBefore: now - 54 * 86_400), reason: "Cancelled for the benchmark.",
                                                   now: now)
        let toFinish = min(10_000, jobs / 2)
        while sample.done < toFinish, let claimed = try await store.claimNextJob(owner: "bench", leaseSeconds: 600, groupID: nil, now: now) {
            var current: ClaimedJob? = claimed
            while let step = current {
                let output = step.currentStep.plugin == "analyze" ? Data(#"{"documentType":"invoice","title":"Invoice","summary":"An invoice.","language":"en","keyFacts":[],"dates":["2026-11-01"],"amounts":[],"parties":["ACME"],"actionItems":[],"confidence":0.8}"#.utf8) : Data("{}".utf8)
                current = try await store.finishStep(step, output: output, usage: StepUsage(), milliseconds: 5, outcome: .done, documentText: nil, now: now)
            }
            sample.done += 1
            if sample.sha.isEmpty {
                sample.sha = claimed.document.sha256
                sample.code = claimed.job.code
            }
        }
        let middle = try await store.jobRows(JobFilter(), beforeID: Int64(jobs / 2), limit: 1)
        sample.middleID = middle.first?.job.id ?? Int64(jobs / 2)
        let format = DateFormatter()
        format.dateFormat = "yyyy-MM-dd"
        format.timeZone = TimeZone(identifier: "UTC")
        sample.monthStart = format.string(from: Date(timeIntervalSince1970: now - 45 * 86_400))
        sample.monthEnd = format.string(from: Date(timeIntervalSince1970: now - 15 * 86_400))
        return sample
    }
}
