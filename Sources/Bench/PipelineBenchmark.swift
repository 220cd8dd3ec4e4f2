import ArgumentParser
import Foundation
import Logging
import Plugins
import Storage
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Pipeline figures: jobs/s through the durable queue with a no-op plugin, the cost of enqueueing a large
/// folder (time and peak RSS of a real `botgateway batch --no-wait`, which must stay flat as the folder
/// grows), and end-to-end files/s of `botgateway batch` over fixtures/.
struct PipelineBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pipeline", abstract: "Durable pipeline throughput, enqueue cost and batch files/s.")

    @Option(help: "Jobs for the no-op throughput run.")
    var jobs = 5000

    @Option(help: "Folder sizes for the enqueue run, comma-separated.")
    var folders = "1000,10000"

    @Option(help: "Folder with the fixture documents.")
    var fixtures = "fixtures"

    @Option(help: "sqlite (one process), postgres (the no-op run on PostgreSQL with 1, 2 and 4 worker processes), or both.")
    var store = "sqlite"

    @Option(help: "PostgreSQL to use for --store postgres (its tables are emptied); default: a server of its own on loopback.")
    var databaseURL: String?

    @Option(help: "Job loops in each PostgreSQL worker process (PIPELINE_WORKERS), comma-separated: each is a run of its own.")
    var loops = "2,16,64"

    @Flag(help: "Run the benchmark's own PostgreSQL without flushing its WAL (fsync, synchronous_commit, full_page_writes off), as the tests do; by default it keeps PostgreSQL's own durable settings.")
    var unflushed = false

    /// The no-op run on PostgreSQL, as the options ask.
    private var postgres: PostgresPipelineBenchmark {
        PostgresPipelineBenchmark(jobs: jobs, databaseURL: databaseURL, loops: loops.split(separator: ",").compactMap { Int($0) }, durable: !unflushed)
    }

    func run() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("botgateway-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        print("Pipeline benchmark on \(ProcessInfo.processInfo.activeProcessorCount) cores")
        guard ["sqlite", "postgres", "both"].contains(store) else { throw ValidationError("--store takes sqlite, postgres or both") }
        if store == "postgres" {
            try await postgres.run()
            return
        }

        print("\n1. No-op plugin: \(jobs) jobs, claim + finish per job in SQLite (WAL)")
        for workers in [1, 2, 4, 8] {
            let (enqueue, process) = try await noop(workers: workers, in: scratch.appendingPathComponent("noop-\(workers)"))
            print(String(format: "   %d workers: %6.0f jobs/s processed (enqueue %6.0f jobs/s)", workers, Double(jobs) / process, Double(jobs) / enqueue))
        }

        let binary = ChildProcess.botgateway
        guard access(binary, X_OK) == 0 else {
            throw ValidationError("\(binary) not found: build both products (swift build -c release)")
        }
        print("\n2. `botgateway batch FOLDER --no-wait` on folders of small files (hash, store, enqueue)")
        for size in folders.split(separator: ",").compactMap({ Int($0) }) {
            let folder = scratch.appendingPathComponent("folder-\(size)")
            try makeFolder(folder, files: size)
            let started = ContinuousClock.now
            let outcome = try ChildProcess.run([binary, "batch", folder.path, "--no-wait", "--json"],
                                               environment: ChildProcess.environment(["BOT_DATA_DIR": scratch.appendingPathComponent("data-\(size)").path,
                                                                                      "LOG_LEVEL": "warning"]),
                                               measureMemory: true)
            let seconds = (ContinuousClock.now - started).seconds
            print(String(format: "   %6d files: %6.2f s, %7.0f files/s, peak RSS %d MB (exit %d)", size, seconds, Double(size) / seconds,
                         outcome.peakRSSKilobytes / 1024, outcome.exitCode))
        }

        print("\n3. `botgateway batch` end to end over \(fixtures)/ (OCR + local analysis + report)")
        let copy = scratch.appendingPathComponent("fixtures")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        var count = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: fixtures).sorted() {
            let path = URL(fileURLWithPath: fixtures).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory), !isDirectory.boolValue, !name.hasSuffix(".md") else { continue }
            try FileManager.default.copyItem(at: path, to: copy.appendingPathComponent(name))
            count += 1
        }
        let started = ContinuousClock.now
        let outcome = try ChildProcess.run([binary, "batch", copy.path, "--json"],
                                           environment: ChildProcess.environment(["BOT_DATA_DIR": scratch.appendingPathComponent("data-e2e").path,
                                                                                  "LOG_LEVEL": "warning"]),
                                           measureMemory: true)
        let seconds = (ContinuousClock.now - started).seconds
        print(String(format: "   %d files in %.2f s: %.2f files/s, peak RSS %d MB (exit %d)", count, seconds, Double(count) / seconds,
                     outcome.peakRSSKilobytes / 1024, outcome.exitCode))
        if store == "both" { try await postgres.run() }
    }

    private func noop(workers: Int, in directory: URL) async throws -> (Double, Double) {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = try AppDatabase(path: directory.appendingPathComponent("botgateway.sqlite").path)
        let blobs = try BlobStore(dataDirectory: directory)
        let started = ContinuousClock.now
        try await NoopPlugin.enqueue(jobs, into: database)
        let enqueued = ContinuousClock.now
        let pipeline = Pipeline(queue: database, blobs: blobs, steps: StepCatalog([NoopPlugin()]),
                                logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        await pipeline.run(workers: workers, untilIdle: true)
        let done = try await database.jobCounts()[.done, default: 0]
        guard done == jobs else { throw ValidationError("only \(done) of \(jobs) jobs finished") }
        return ((enqueued - started).seconds, (ContinuousClock.now - enqueued).seconds)
    }

    /// Small distinct files that sniff as PNG (the enqueue path never decodes them).
    private func makeFolder(_ folder: URL, files: Int) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        for index in 0..<files {
            var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            bytes += (0..<2048).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try Data(bytes).write(to: folder.appendingPathComponent(String(format: "scan-%06d.png", index)))
        }
    }
}

struct NoopPlugin: Plugin {
    var name: String { "noop" }

    /// `count` jobs of this one step, each on its own (never read) document, 500 per `enqueue` call.
    static func enqueue(_ count: Int, into queue: any JobQueue) async throws {
        var batch: [(document: DocumentRecord, request: JobRequest)] = []
        for index in 0..<count {
            let sha = String(format: "%064x", index)
            batch.append((DocumentRecord(sha256: sha, format: "png", mimeType: "image/png", size: 1, blobPath: "blobs/none", originalName: "\(index).png"),
                          JobRequest(origin: .batch, sourceName: "\(index).png")))
            if batch.count == 500 || index == count - 1 {
                _ = try await queue.enqueue(batch, steps: ["noop"])
                batch.removeAll(keepingCapacity: true)
            }
        }
    }

    func run(_ context: PluginContext) async throws -> PluginResult {
        PluginResult(output: Data("{}".utf8))
    }
}
