import Foundation
import OCR
import Plugins
import Storage
import Testing

@Suite("Pipeline: steps, retries, failures, reuse")
struct PipelineRunTests {
    static let fast = Pipeline.Settings(retry: RetryPolicy(baseDelay: 0.01, maxDelay: 0.05), leaseSeconds: 30, pollInterval: 0.01)

    func pipeline(_ store: TestStore, _ plugins: [any Plugin], observer: EventLog? = nil, settings: Pipeline.Settings = fast) -> Pipeline {
        Pipeline(queue: store.database, blobs: store.blobs, steps: StepCatalog(plugins), settings: settings, observer: observer, logger: Paths.quiet)
    }

    @Test("steps run in order and each result is stored")
    func stepsInOrder() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let one = ScriptedPlugin(name: "one"), two = ScriptedPlugin(name: "two")
        let events = EventLog()
        let job = try await store.enqueue(try distinctDocument(10), steps: ["one", "two"])
        await pipeline(store, [one, two], observer: events).run(workers: 2, untilIdle: true)
        let details = try #require(try await store.database.jobDetails(code: job.code))
        #expect(details.job.state == .done)
        #expect(details.steps.map(\.state) == [.done, .done])
        #expect(String(decoding: details.output(of: "two") ?? Data(), as: UTF8.self).contains(job.code))
        #expect(events.finished == [job.code])
    }

    @Test("a transient failure is retried with backoff and then succeeds")
    func transientThenSuccess() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let flaky = ScriptedPlugin(name: "one", failures: [.transient("HTTP 503"), .transient("timed out")])
        let job = try await store.enqueue(try distinctDocument(11), steps: ["one"])
        await pipeline(store, [flaky]).run(workers: 1, untilIdle: true)
        let details = try #require(try await store.database.jobDetails(code: job.code))
        #expect(details.job.state == .done)
        #expect(details.steps[0].attempts == 3)
        #expect(flaky.runCount == 3)
        #expect(try await store.database.stepRuns(jobID: job.id!).map(\.outcome) == [.retry, .retry, .done])
    }

    @Test("retry-after is honoured")
    func retryAfter() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let limited = ScriptedPlugin(name: "one", failures: [.transient("429 Too Many Requests", retryAfter: 1)])
        _ = try await store.enqueue(try distinctDocument(12), steps: ["one"])
        await pipeline(store, [limited]).run(workers: 1, untilIdle: true)
        let times = limited.times
        #expect(times.count == 2)
        #expect(times[1].timeIntervalSince(times[0]) >= 0.95)
    }

    @Test("a permanent failure fails the job at once with its reason")
    func permanentFailure() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let broken = ScriptedPlugin(name: "one", failures: [.permanent("the PNG file is damaged or incomplete")])
        let never = ScriptedPlugin(name: "two")
        let events = EventLog()
        let job = try await store.enqueue(try distinctDocument(13), steps: ["one", "two"])
        await pipeline(store, [broken, never], observer: events).run(workers: 1, untilIdle: true)
        let details = try #require(try await store.database.jobDetails(code: job.code))
        #expect(details.job.state == .failed)
        #expect(details.job.lastError == "the PNG file is damaged or incomplete")
        #expect(details.steps.map(\.state) == [.failed, .pending])
        #expect(broken.runCount == 1)
        #expect(never.runCount == 0)
        #expect(events.failed.map(\.1) == ["the PNG file is damaged or incomplete"])
    }

    @Test("transient failures give up after three attempts")
    func givesUp() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let down = ScriptedPlugin(name: "one", failures: Array(repeating: .transient("HTTP 502"), count: 5))
        let job = try await store.enqueue(try distinctDocument(14), steps: ["one"])
        await pipeline(store, [down]).run(workers: 1, untilIdle: true)
        #expect(down.runCount == 3)
        #expect(try await store.database.jobDetails(code: job.code)?.job.state == .failed)
    }

    @Test("many jobs on several workers each run exactly once")
    func exactlyOnce() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let counter = ScriptedPlugin(name: "one")
        for seed in 100..<160 { _ = try await store.enqueue(try distinctDocument(seed), steps: ["one"]) }
        await pipeline(store, [counter]).run(workers: 4, untilIdle: true)
        #expect(counter.runCount == 60)
        let runs = try await store.database.completedRunCounts(plugin: "one")
        #expect(runs.count == 60)
        #expect(runs.values.allSatisfy { $0 == 1 })
    }

    @Test("the same file sent twice is stored once and read by OCR once")
    func sameFileTwice() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let pool = try await OCREnginePool(configuration: OCRConfiguration(workers: 1), logger: Paths.quiet)
        let data = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("receipt.jpg")))
        let first = try await store.enqueue(data, name: "receipt.jpg", steps: ["ocr", "analyze"], chatID: 1)
        let second = try await store.enqueue(data, name: "again.jpg", steps: ["ocr", "analyze"], chatID: 2)
        #expect(first.documentSHA256 == second.documentSHA256)
        await pipeline(store, [OCRPlugin(pool: pool), AnalyzePlugin(analyzer: LocalAnalyzer())]).run(workers: 1, untilIdle: true)
        await pool.shutdown()
        let outcomes = try await store.database.stepRuns(jobID: first.id!) + store.database.stepRuns(jobID: second.id!)
        #expect(outcomes.filter { $0.plugin == "ocr" }.map(\.outcome).sorted { $0.rawValue < $1.rawValue } == [.done, .reused])
        let blobs = try FileManager.default.subpathsOfDirectory(atPath: store.directory.appendingPathComponent("blobs").path)
            .filter { !$0.hasPrefix("tmp") && $0.count > 60 }
        #expect(blobs.count == 1)
        let analysis = try Analysis.decode(try #require(try await store.database.jobDetails(code: second.code)?.output(of: "analyze")))
        #expect(analysis.documentType == "receipt")
    }

    @Test("an unreadable document fails its job permanently; the next document is still read")
    func corruptDocument() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let pool = try await OCREnginePool(configuration: OCRConfiguration(workers: 1), logger: Paths.quiet)
        let bad = try await store.enqueue(try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("bad/truncated.png"))), name: "truncated.png", steps: ["ocr"])
        let good = try await store.enqueue(try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("receipt.jpg"))), name: "receipt.jpg", steps: ["ocr"])
        await pipeline(store, [OCRPlugin(pool: pool)]).run(workers: 1, untilIdle: true)
        await pool.shutdown()
        let failed = try #require(try await store.database.jobDetails(code: bad.code))
        #expect(failed.job.state == .failed)
        #expect(failed.steps[0].attempts == 1)
        #expect(failed.job.lastError?.contains("damaged or incomplete") == true)
        #expect(try await store.database.jobDetails(code: good.code)?.job.state == .done)
    }

    @Test("cancelling the run hands running jobs back without counting the attempt")
    func cancellationReleases() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let slow = SlowPlugin()
        let job = try await store.enqueue(try distinctDocument(20), steps: ["slow"])
        let run = Task { await pipeline(store, [slow]).run(workers: 1) }
        // Cancel once the worker is inside the step (a loaded machine may take a while to get there).
        var polls = 0
        while try await store.database.jobDetails(code: job.code)?.job.state != .running, polls < 250 {
            try await Task.sleep(for: .milliseconds(20))
            polls += 1
        }
        try await Task.sleep(for: .milliseconds(50))
        run.cancel()
        await run.value
        let details = try #require(try await store.database.jobDetails(code: job.code))
        #expect(details.job.state == .queued)
        #expect(details.steps[0].attempts == 0)
        #expect(try await store.database.stepRuns(jobID: job.id!).map(\.outcome) == [.released])
    }
}

/// Sleeps until cancelled, like a long OCR or LLM call at shutdown.
struct SlowPlugin: Plugin {
    var name: String { "slow" }

    func run(_ context: PluginContext) async throws -> PluginResult {
        try await Task.sleep(for: .seconds(60))
        return PluginResult(output: Data())
    }
}
