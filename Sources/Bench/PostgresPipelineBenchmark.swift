import ArgumentParser
import CoreMetrics
import Foundation
import Logging
import Plugins
import PostgresStore
import Storage
import Synchronization
import TestSupport

/// The shared queue under contention: N jobs with a no-op step on PostgreSQL, drained by 1, 2 and 4 worker
/// processes (each this binary's hidden `pipeline-worker`, running the real `Pipeline` with two job loops),
/// against the same run on one SQLite file in one process. Prints jobs/s and the claim latency each worker
/// process measured (p50/p99 over all claims that found a job, from the pipeline's own
/// `botgateway_claim_duration_seconds`).
struct PostgresPipelineBenchmark {
    let jobs: Int
    let databaseURL: String?
    /// Job loops per worker process, one run each.
    let loops: [Int]
    /// The server of its own flushes its WAL at each commit (PostgreSQL's defaults), as an operator's does.
    let durable: Bool

    func run() async throws {
        var server: PostgresServer?
        if databaseURL == nil {
            if let reason = PostgresServer.unavailableReason { throw ValidationError("PostgreSQL cannot run here: \(reason)") }
            server = try await PostgresServer.start(durable: durable)
            print(durable ? "PostgreSQL of its own on loopback, with its default durable settings (each commit waits for its WAL flush)"
                          : "PostgreSQL of its own on loopback, unflushed (fsync, synchronous_commit, full_page_writes off)")
        }
        for loops in loops {
            print("\n4. No-op plugin on PostgreSQL: \(jobs) jobs, worker processes × \(loops) job loops; the claims and the finished steps a process's loops ask for together go in one transaction each")
            for processes in [1, 2, 4] {
                let url: String
                if let server { url = try await server.freshDatabase() } else { url = databaseURL ?? "" }
                let database = try await PostgresDatabase.open(url)
                // With --database-url the rounds share one database: count only this round's jobs.
                let doneBefore = try await database.jobCounts(groupID: nil)[.done, default: 0]
                let enqueueStarted = ContinuousClock.now
                try await NoopPlugin.enqueue(jobs, into: database)
                let enqueueSeconds = (ContinuousClock.now - enqueueStarted).seconds
                let serverCPUBefore = server?.processID.map(ProcessUsage.treeCPUSeconds) ?? 0
                let reports = try await drain(url: url, processes: processes, loops: loops)
                let serverCPU = (server?.processID.map(ProcessUsage.treeCPUSeconds) ?? 0) - serverCPUBefore
                let done = try await database.jobCounts(groupID: nil)[.done, default: 0] - doneBefore
                await database.close()
                let first = reports.map(\.firstClaim).min() ?? 0, last = reports.map(\.lastFinish).max() ?? 0
                let claims = reports.flatMap(\.claimMilliseconds).sorted()
                print(String(format: "   %d process%@: %6.0f jobs/s processed (enqueue %6.0f jobs/s), claim p50 %5.1f ms p99 %5.1f ms over %d claims%@",
                             processes, processes == 1 ? "  " : "es", Double(done) / max(last - first, 0.001), Double(jobs) / enqueueSeconds,
                             Self.quantile(claims, 0.5), Self.quantile(claims, 0.99), claims.count, done == jobs ? "" : " — only \(done) done"))
                // CPU per job says what a change costs or saves more steadily than jobs/s on a shared machine.
                let workerCPU = reports.map(\.cpuSeconds).reduce(0, +)
                print(String(format: "                  CPU per job: workers %.3f ms%@", workerCPU / Double(max(done, 1)) * 1000,
                             server == nil ? "" : String(format: ", PostgreSQL %.3f ms", serverCPU / Double(max(done, 1)) * 1000)))
            }
        }
        await server?.stop()
    }

    struct WorkerReport: Codable {
        var jobs: Int
        var firstClaim: Double
        var lastFinish: Double
        var claimMilliseconds: [Double]
        /// The worker process's user and system CPU time over its run.
        var cpuSeconds: Double
    }

    private func drain(url: String, processes: Int, loops: Int) async throws -> [WorkerReport] {
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let children = try (0..<processes).map { _ in
            try ChildProcess([binary, "pipeline-worker", url, "--loops", String(loops)], environment: ChildProcess.environment(["LOG_LEVEL": "error"]))
        }
        var reports: [WorkerReport] = []
        for child in children {
            let status = await child.exit()
            guard status == 0, let line = child.standardOutput.split(separator: "\n").last,
                  let report = try? JSONDecoder().decode(WorkerReport.self, from: Data(line.utf8)) else {
                throw ValidationError("a worker process failed (exit \(status)): \(child.standardError.suffix(500))")
            }
            reports.append(report)
        }
        return reports
    }

    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }
}

/// One worker process of the PostgreSQL benchmark: the real `Pipeline` with a no-op step and two job loops
/// until the queue is empty; prints one JSON line (jobs it finished, its first claim and last finish as
/// wall-clock seconds, every claim's duration).
struct PipelineWorkerChild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pipeline-worker", shouldDisplay: false)

    @Argument var databaseURL: String
    @Option var loops = 2

    func run() async throws {
        let database = try await PostgresDatabase.open(databaseURL)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bench-worker-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let metrics = ClaimTimings()
        let pipeline = Pipeline(queue: database, blobs: try BlobStore(dataDirectory: scratch), steps: StepCatalog([NoopPlugin()]),
                                logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }), metrics: metrics)
        await pipeline.run(workers: loops, untilIdle: true)
        await database.close()
        let report = PostgresPipelineBenchmark.WorkerReport(jobs: metrics.found.count, firstClaim: metrics.first, lastFinish: Date().timeIntervalSince1970,
                                                            claimMilliseconds: metrics.found, cpuSeconds: ProcessUsage.cpuSeconds(getpid()))
        print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
    }
}

/// Keeps the durations of claims that found a job, as the pipeline records them; everything else is dropped.
final class ClaimTimings: MetricsFactory, Sendable {
    private let state = Mutex((found: [Double](), first: Double.infinity))

    var found: [Double] { state.withLock { $0.found } }
    var first: Double { state.withLock { $0.first } }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { NOOPMetricsHandler.instance }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler { NOOPMetricsHandler.instance }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { NOOPMetricsHandler.instance }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { NOOPMetricsHandler.instance }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard label == "botgateway_claim_duration_seconds", dimensions.contains(where: { $0 == ("found", "job") }) else { return NOOPMetricsHandler.instance }
        return Handler(owner: self)
    }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    fileprivate func add(_ nanoseconds: Int64) {
        let now = Date().timeIntervalSince1970 - Double(nanoseconds) / 1e9
        state.withLock { state in
            state.found.append(Double(nanoseconds) / 1e6)
            state.first = min(state.first, now)
        }
    }

    private final class Handler: TimerHandler, Sendable {
        let owner: ClaimTimings
        init(owner: ClaimTimings) { self.owner = owner }
        func recordNanoseconds(_ duration: Int64) { owner.add(duration) }
    }
}
