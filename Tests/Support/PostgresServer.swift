import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL server for tests: Debian's `postgresql` binaries, a new cluster in a temporary folder,
/// listening on a free loopback port, trust authentication on loopback only. Run as an unprivileged user:
/// under root (CI, containers) as the `postgres` account the package creates, since the server refuses root.
/// `stop()` shuts it down and removes the cluster.
public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    public let user = "botgateway"
    private let directory: URL
    private let binaries: URL
    /// Flushes its WAL at each commit, as any production server does; a test server does not.
    private let durable: Bool
    private var watchdog: ChildProcess?

    private init(port: Int, directory: URL, binaries: URL, durable: Bool) {
        self.port = port
        self.directory = directory
        self.binaries = binaries
        self.durable = durable
    }

    /// The server's main process, from its cluster's `postmaster.pid` (nil when it is not running).
    public var processID: pid_t? {
        guard let contents = try? String(contentsOfFile: cluster + "/postmaster.pid", encoding: .utf8) else { return nil }
        return contents.split(separator: "\n").first.flatMap { pid_t($0) }
    }

    /// A database URL for `database` on this server (created by `createDatabase`).
    public func url(database: String) -> String { "postgres://\(user)@127.0.0.1:\(port)/\(database)?sslmode=disable" }

    /// The folder of `initdb`, `pg_ctl` and `postgres`: `POSTGRES_BIN`, else the newest under /usr/lib/postgresql.
    public static var binaries: URL? {
        if let path = ProcessInfo.processInfo.environment["POSTGRES_BIN"], access(path + "/pg_ctl", X_OK) == 0 {
            return URL(fileURLWithPath: path)
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        return versions.reversed().map { URL(fileURLWithPath: "\(root)/\($0)/bin") }.first { access($0.path + "/pg_ctl", X_OK) == 0 }
    }

    /// Why the tests that need PostgreSQL cannot run here, or nil when they can.
    public static var unavailableReason: String? {
        guard binaries != nil else { return "PostgreSQL is not installed (scripts/setup installs Debian's postgresql)" }
        if geteuid() == 0, getpwnam("postgres") == nil { return "running as root and there is no postgres account to run the server as" }
        return nil
    }

    /// A port free a moment ago can be taken by the time the server binds it (other tests start servers too, and
    /// outgoing connections draw from the same range): another port and folder, twice more.
    ///
    /// `durable`: PostgreSQL's own defaults for `fsync`, `synchronous_commit` and `full_page_writes` (all on), for
    /// benchmarks; otherwise all off, which a test cluster thrown away at the end does not need.
    public static func start(durable: Bool = false) async throws -> PostgresServer {
        for _ in 0..<2 {
            do {
                return try await launch(durable: durable)
            } catch PostgresServerError.failed(let message) where message.contains("could not start server") {
                continue
            }
        }
        return try await launch(durable: durable)
    }

    private static func launch(durable: Bool) async throws -> PostgresServer {
        guard let binaries else { throw PostgresServerError.notInstalled }
        let directory = URL(fileURLWithPath: "/tmp/botgateway-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard let port = LoopbackSocket.freePort() else { throw PostgresServerError.failed("no free loopback port") }
        let server = PostgresServer(port: port, directory: directory, binaries: binaries, durable: durable)
        do {
            try server.prepare()
            try await server.run(["initdb", "-D", server.cluster, "-U", server.user, "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C"])
            try await server.resume()
        } catch {
            await server.stop()
            throw error
        }
        try server.watchOwner()
        return server
    }

    /// A test process can end without running its exit hooks (a crash, a runner that exits at once): a small
    /// watchdog stops the server and removes its folder once the process that started it is gone.
    private func watchOwner() throws {
        let stopCommand = (geteuid() == 0 ? "/usr/sbin/runuser -u postgres -- " : "")
            + "'\(binaries.appendingPathComponent("pg_ctl").path)' -D '\(cluster)' -m immediate -w stop"
        let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(stopCommand) >/dev/null 2>&1; rm -rf '\(directory.path)'"
        watchdog = try ChildProcess(["/bin/sh", "-c", script])
    }

    /// Creates an empty database, so each test gets its own.
    public func createDatabase(_ name: String) async throws {
        try await run(["createdb", "-h", directory.path, "-p", "\(port)", "-U", user, name])
    }

    /// A fresh database with a unique name, and its URL.
    public func freshDatabase() async throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await createDatabase(name)
        return url(database: name)
    }

    /// Stops the server fast (open connections are cut) and keeps the cluster: `resume()` starts it again, as
    /// after an outage or a restart.
    public func pause() async throws {
        try await run(["pg_ctl", "-D", cluster, "-m", "fast", "-w", "stop"])
    }

    /// Starts the server on its cluster: small, loopback only, its socket in the folder; without flushes unless
    /// `durable` (a test cluster is thrown away).
    public func resume() async throws {
        let options = "-p \(port) -k \(directory.path) -c listen_addresses=127.0.0.1 "
            + (durable ? "" : "-c fsync=off -c synchronous_commit=off -c full_page_writes=off ")
            + "-c max_connections=200 -c shared_buffers=64MB"
        try await run(["pg_ctl", "-D", cluster, "-l", directory.appendingPathComponent("server.log").path, "-o", options, "-w", "-t", "60", "start"])
    }

    /// Stops the server (immediate: a test cluster needs no checkpoint) and removes it.
    public func stop() async {
        _ = try? await run(["pg_ctl", "-D", cluster, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    private var cluster: String { directory.appendingPathComponent("cluster").path }

    /// Under root the folder belongs to the account the server runs as.
    private func prepare() throws {
        guard geteuid() == 0 else { return }
        guard let account = getpwnam("postgres") else { throw PostgresServerError.noAccount }
        guard chown(directory.path, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
            throw PostgresServerError.failed("chown \(directory.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Runs a PostgreSQL tool to its end on a Dispatch thread: the tests' few concurrency threads serve the
    /// doubles and must never wait on a child process.
    @discardableResult
    private func run(_ arguments: [String]) async throws -> String {
        var command = arguments
        command[0] = binaries.appendingPathComponent(arguments[0]).path
        if geteuid() == 0 { command = ["/usr/sbin/runuser", "-u", "postgres", "--"] + command }
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        let outcome = try await ChildProcess.runOffPool(command, environment: environment)
        guard outcome.exitCode == 0 else {
            throw PostgresServerError.failed("\(arguments[0]) exited \(outcome.exitCode): \(outcome.standardError.suffix(800))")
        }
        return outcome.standardOutput
    }
}

public enum PostgresServerError: Error, CustomStringConvertible {
    case notInstalled
    case noAccount
    case failed(String)

    public var description: String {
        switch self {
        case .notInstalled: "PostgreSQL is not installed: run scripts/setup (apt-get install postgresql) or set POSTGRES_BIN"
        case .noAccount: "running as root, and there is no postgres account to run the server as"
        case .failed(let why): "PostgreSQL: \(why)"
        }
    }
}
