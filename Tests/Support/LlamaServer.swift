import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real OpenAI-compatible server for tests: llama.cpp's `llama-server` (built by `scripts/llama-server`)
/// serving SmolLM2-135M-Instruct on loopback, with `--api-key` enforcing the Bearer key.
public final class LlamaServer: @unchecked Sendable {
    public let apiKey: String
    public let model: String
    public let port: Int
    private let process: ChildProcess

    /// What `/v1` clients configure as their base URL.
    public var apiBaseURL: String { "http://127.0.0.1:\(port)/v1" }

    private init(apiKey: String, model: String, port: Int, process: ChildProcess) {
        self.apiKey = apiKey
        self.model = model
        self.port = port
        self.process = process
    }

    /// `LLAMA_SERVER_BINARY` and `SMOLLM2_GGUF`, when both exist (scripts/test exports them).
    public static var installation: (binary: String, model: String)? {
        let environment = ProcessInfo.processInfo.environment
        guard let binary = environment["LLAMA_SERVER_BINARY"], access(binary, X_OK) == 0,
              let model = environment["SMOLLM2_GGUF"], access(model, R_OK) == 0 else { return nil }
        return (binary, model)
    }

    public static func start(binary: String, modelPath: String, apiKey: String = "llama-test-\(UUID().uuidString.prefix(8))") async throws -> LlamaServer {
        guard let port = LoopbackSocket.freePort() else { throw LlamaServerError.noPort }
        let alias = "SmolLM2-135M-Instruct"
        let process = try ChildProcess([binary, "-m", modelPath, "--alias", alias, "--host", "127.0.0.1", "--port", String(port),
                                        "--api-key", apiKey, "-c", "4096", "-t", "2", "-np", "1", "--no-webui"])
        let server = LlamaServer(apiKey: apiKey, model: alias, port: port, process: process)
        try await server.waitUntilReady()
        return server
    }

    /// `/health` answers 200 once the model is loaded (503 while loading).
    private func waitUntilReady() async throws {
        for _ in 0..<240 {
            try await Task.sleep(for: .milliseconds(250))
            if process.exitCodeIfEnded() != nil { break }
            if Self.healthStatus(port: port) == 200 { return }
        }
        let log = (try? String(contentsOfFile: process.standardErrorPath, encoding: .utf8))?.suffix(800).description ?? ""
        stop()
        throw LlamaServerError.didNotStart(log)
    }

    public var log: String { (try? String(contentsOfFile: process.standardErrorPath, encoding: .utf8)) ?? "" }

    public func stop() {
        process.signal(SIGTERM)
        for _ in 0..<50 {
            if process.exitCodeIfEnded() != nil { return }
            usleep(100_000)
        }
        process.signal(SIGKILL)
        _ = process.wait()
    }

    /// A bare HTTP/1.0 GET of /health, so the helper needs no client library.
    static func healthStatus(port: Int) -> Int? {
        guard let descriptor = LoopbackSocket.connect(port: port) else { return nil }
        defer { close(descriptor) }
        let request = "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        _ = request.withCString { send(descriptor, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count > 12 else { return nil }
        return Int(String(decoding: buffer[0..<count], as: UTF8.self).split(separator: " ").dropFirst().first ?? "")
    }
}

public enum LlamaServerError: Error, CustomStringConvertible {
    case noPort
    case didNotStart(String)

    public var description: String {
        switch self {
        case .noPort: "no free loopback port"
        case .didNotStart(let log): "llama-server did not start: \(log)"
        }
    }
}
