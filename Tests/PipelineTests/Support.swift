import Foundation
import Logging
import OCR
import Plugins
import Storage
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
        let document = try DocumentIntake(blobs: blobs).take(data: data, displayName: name)
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

    static var binary: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("botgateway").path
    }

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

/// Runs the built `botgateway` binary as a child process.
struct Child {
    let pid: pid_t
    let output: URL

    static func start(_ arguments: [String], environment extra: [String: String]) throws -> Child {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, output.path + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        guard access(arguments[0], X_OK) == 0, posix_spawn(&pid, arguments[0], &actions, nil, argv, envp) == 0 else {
            throw StorageError.invalid("cannot start \(arguments[0]); build it with `swift build --build-tests`")
        }
        return Child(pid: pid, output: output)
    }

    /// Waits for the exit code (signals as 128+n).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    var standardOutput: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
    var standardError: String { (try? String(contentsOfFile: output.path + ".err", encoding: .utf8)) ?? "" }

    static func run(_ arguments: [String], environment: [String: String]) throws -> (code: Int32, output: String, error: String) {
        let child = try start(arguments, environment: environment)
        let code = child.wait()
        return (code, child.standardOutput, child.standardError)
    }
}
