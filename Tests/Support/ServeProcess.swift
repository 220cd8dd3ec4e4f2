import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `botgateway serve` as an operator runs it, for the tests and benchmarks that need a real process: started
/// with exactly the given environment, its port read from its "serving" log line (JSON logs, info level or
/// more verbose, `BOT_PORT=0` for any free port).
public struct ServeProcess: Sendable {
    public let child: ChildProcess
    public let port: Int

    /// `command` is `serve`, or `worker` (which logs the same line for its health and metrics port).
    public static func start(_ command: String = "serve", environment: [String: String], arguments: [String] = []) async throws -> ServeProcess {
        let child = try ChildProcess([ChildProcess.botgateway, command] + arguments, environment: environment)
        for _ in 0..<600 {
            try await Task.sleep(for: .milliseconds(50))
            for line in child.standardError.split(separator: "\n") where line.contains("\"msg\":\"serving\"") {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let port = (object["port"] as? String).flatMap(Int.init), port > 0 {
                    return ServeProcess(child: child, port: port)
                }
            }
        }
        child.signal(SIGKILL)
        _ = child.wait()
        throw ServeProcessError.didNotStart(log: String(child.standardError.suffix(2000)))
    }

    /// SIGKILL, as a crash or the OOM killer would; returns once the process is gone.
    public func kill9() async {
        child.signal(SIGKILL)
        _ = await child.exit()
    }

    /// SIGTERM, as an operator or systemd would; returns the exit code.
    public func terminate() async -> Int32 {
        child.signal(SIGTERM)
        return await child.exit()
    }
}

public enum ServeProcessError: Error, CustomStringConvertible {
    case didNotStart(log: String)

    public var description: String {
        switch self {
        case .didNotStart(let log): "botgateway serve did not start; its log ends with:\n\(log)"
        }
    }
}
