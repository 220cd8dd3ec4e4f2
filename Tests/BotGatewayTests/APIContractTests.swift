import CurlHTTP
import Foundation
import TestSupport
import Testing

/// `openapi.yaml` checked against a running `botgateway serve` by schemathesis (a property-based API fuzzer
/// from PyPI, installed by `scripts/setup`): every response matches the contract, and none is a 5xx.
@Suite("HTTP API contract (schemathesis)")
struct APIContractTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `st` on PATH or in Python's scripts folder; nil when schemathesis is not installed.
    static var schemathesis: String? {
        let scripts = (try? ChildProcess.run(["python3", "-c", "import sysconfig; print(sysconfig.get_path('scripts'))"]))?
            .standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + [scripts].compactMap { $0 }
        return candidates.map { "\($0)/st" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test("every response of a fuzzed run matches openapi.yaml and none is a server error")
    func fuzz() async throws {
        guard let st = Self.schemathesis else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("schemathesis is not installed: scripts/setup installs it") }
            print("API contract fuzz skipped: schemathesis is not installed (scripts/setup installs it)")
            return
        }
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("api-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: data) }
        let environment = ChildProcess.environment([
            "BOT_DATA_DIR": data.path, "BOT_PORT": "0", "TELEGRAM_BOT_TOKEN": "123456:fuzz", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9",
            "TELEGRAM_WEBHOOK_SECRET": "fuzz-secret", "OMP_THREAD_LIMIT": "1", "LOG_LEVEL": "info",
        ])
        let created = try await ChildProcess.runOffPool(
            [ChildProcess.botgateway, "tokens", "create", "fuzz", "--scope", "admin", "--rate-limit", "100000", "--daily-quota", "1000000"],
            environment: environment)
        #expect(created.exitCode == 0, "\(created.standardError)")
        let token = try #require(created.standardOutput.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix("bgw_") })
        let serve = try await ServeProcess.start(environment: environment)
        do {
            // A real job, document and group for the operations that read one.
            let http = HTTPClient()
            defer { http.shutdown() }
            let base = "http://127.0.0.1:\(serve.port)"
            let png = try Data(contentsOf: Self.root.appendingPathComponent("fixtures/letter.png"))
            let upload = try await http.send(HTTPClientRequest(method: "POST", url: "\(base)/api/v1/documents?filename=letter.png&group=fuzz", headers: [
                ("Authorization", "Bearer \(token)"), ("Content-Type", "image/png"),
            ], body: .data(png)))
            #expect(upload.status == 202)
            let job = try #require((try JSONSerialization.jsonObject(with: upload.body) as? [String: Any])?["job"] as? [String: Any])
            let code = try #require(job["code"] as? String)
            var document = ""
            let done = try await poll(timeout: .seconds(120), every: .milliseconds(200)) {
                let reply = try await http.send(HTTPClientRequest(url: "\(base)/api/v1/jobs/\(code)", headers: [("Authorization", "Bearer \(token)")]))
                let body = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
                document = ((body?["document"] as? [String: Any])?["id"] as? String) ?? ""
                return body?["state"] as? String == "done"
            }
            #expect(done, "the fixture's job did not finish")
            var fuzzEnvironment = ChildProcess.environment(["FUZZ_JOB_CODE": code, "FUZZ_DOCUMENT_ID": document])
            fuzzEnvironment["SCHEMATHESIS_HOOKS"] = nil
            let run = try await ChildProcess.runOffPool([
                st, "--no-color", "--config-file", Self.root.appendingPathComponent("scripts/api-fuzz/schemathesis.toml").path,
                "run", Self.root.appendingPathComponent("openapi.yaml").path, "--url", base, "-H", "Authorization: Bearer \(token)",
                "--checks", "all", "--max-examples", "40", "--workers", "1", "--request-timeout", "30", "--seed", "20261124",
            ], environment: fuzzEnvironment)
            #expect(run.exitCode == 0, "schemathesis found failures:\n\(run.standardOutput.suffix(6000))")
            let summary = run.standardOutput.split(separator: "\n").filter { $0.contains("generated") || $0.contains("passed") }
            print("schemathesis: \(summary.joined(separator: " | "))")
        } catch {
            _ = await serve.terminate()
            throw error
        }
        #expect(await serve.terminate() == 0)
        #expect(!serve.child.standardError.contains("\"level\":\"critical\""))
        // The token went with every request: never into the log.
        #expect(!serve.child.standardError.contains(token))
        #expect(!serve.child.standardError.contains(String(token.dropFirst(4).prefix(12))))
    }
}
