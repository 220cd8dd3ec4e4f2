import Foundation
import Logging
import OCR
import Plugins
import Storage
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A fresh data folder with its database and blob store; removed when the value is dropped by the test.
struct TestStore {
    let directory: URL
    let database: AppDatabase
    let blobs: BlobStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        database = try AppDatabase(path: directory.appendingPathComponent("botgateway.sqlite").path)
        blobs = try BlobStore(dataDirectory: directory)
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stores bytes as a document and enqueues one job for it.
    func enqueue(_ data: Data, name: String = "doc.png", steps: [String], groupID: Int64? = nil, chatID: Int64? = nil) async throws -> JobRecord {
        let document = try await DocumentIntake(blobs: blobs).take(data: data, displayName: name)
        _ = try await database.saveDocument(document)
        return try await database.enqueue(documentSHA256: document.sha256,
                                          request: JobRequest(origin: .batch, sourceName: name, groupID: groupID, chatID: chatID),
                                          steps: steps).job
    }
}

enum Paths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ name: String) -> String {
        root.appendingPathComponent("fixtures").appendingPathComponent(name).path
    }

    static func truth(_ name: String) throws -> String {
        try String(contentsOfFile: fixture("ground-truth/\(name).txt"), encoding: .utf8)
    }

    static var binary: String { ChildProcess.botgateway }

    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// A small image whose bytes differ by `seed`, so each is a distinct document (for scripted plugins only).
func distinctDocument(_ seed: Int) throws -> Data {
    var data = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("formats/note.webp")))
    // Changing bytes past the RIFF header keeps the format sniffable and the hash unique.
    data.append(contentsOf: withUnsafeBytes(of: UInt64(seed).bigEndian, Array.init))
    return data
}

/// A plugin whose outcomes the test scripts: it fails as told, then succeeds, and counts its runs.
final class ScriptedPlugin: Plugin, @unchecked Sendable {
    let name: String
    private let lock = NSLock()
    private var failures: [PluginError]
    private(set) var runs = 0
    private(set) var runTimes: [Date] = []

    init(name: String, failures: [PluginError] = []) {
        self.name = name
        self.failures = failures
    }

    var runCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return runs
    }

    var times: [Date] {
        lock.lock()
        defer { lock.unlock() }
        return runTimes
    }

    func run(_ context: PluginContext) async throws -> PluginResult {
        let failure: PluginError? = lock.withLock {
            runs += 1
            runTimes.append(Date())
            return failures.isEmpty ? nil : failures.removeFirst()
        }
        if let failure { throw failure }
        return PluginResult(output: Data("{\"plugin\":\"\(name)\",\"job\":\"\(context.job.code)\"}".utf8))
    }
}

/// Collects pipeline events for assertions.
final class EventLog: PipelineObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var events: [PipelineEvent] = []

    func pipeline(_ event: PipelineEvent) async {
        lock.withLock { events.append(event) }
    }

    var finished: [String] {
        lock.lock()
        defer { lock.unlock() }
        return events.compactMap { if case .jobFinished(let job) = $0 { job.code } else { nil } }
    }

    var failed: [(String, String)] {
        lock.lock()
        defer { lock.unlock() }
        return events.compactMap { if case .jobFailed(let job, _, let error) = $0 { (job.code, error) } else { nil } }
    }
}

/// Runs the built `botgateway` binary to completion with extra environment, waiting off the concurrency pool:
/// the test runner runs suites in parallel on a pool of one thread per core, and a thread blocked on a child
/// stalls every other test's tasks (and the test doubles answering on them).
enum Child {
    static func run(_ arguments: [String], environment: [String: String]) async throws -> (code: Int32, output: String, error: String) {
        let outcome = try await ChildProcess.runOffPool(arguments, environment: ChildProcess.environment(environment))
        return (outcome.exitCode, outcome.standardOutput, outcome.standardError)
    }
}
