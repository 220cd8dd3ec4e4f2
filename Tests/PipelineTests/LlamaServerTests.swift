import CurlHTTP
import Foundation
import Plugins
import Storage
import TestSupport
import Testing

/// The `openai` analyser against a real OpenAI-compatible server: llama.cpp's `llama-server` with
/// SmolLM2-135M. The tiny model answers poorly, so this checks the protocol path, not the analysis.
@Suite("openai analyser against a real llama.cpp server", .serialized)
struct LlamaServerTests {
    static let available = LlamaServer.installation != nil || ProcessInfo.processInfo.environment["CI"] == "true"

    @Test("request accepted under JSON schema, images refused and dropped, the answer validated or failed clearly with the OCR text kept",
          .enabled(if: available, "needs scripts/llama-server (LLAMA_SERVER_BINARY and SMOLLM2_GGUF); CI always runs it"),
          .timeLimit(.minutes(10)))
    func protocolPath() async throws {
        let installation = try #require(LlamaServer.installation, "scripts/test builds llama-server and exports LLAMA_SERVER_BINARY and SMOLLM2_GGUF")
        let server = try await LlamaServer.start(binary: installation.binary, modelPath: installation.model)
        defer { server.stop() }
        let run = try LLMRun()
        defer { run.close() }
        // A small output budget: the model rambles, and the grammar lets arrays run on.
        let endpoint = LLMEndpoint(baseURL: server.apiBaseURL, apiKey: APIKey(server.apiKey), model: server.model,
                                   timeout: .seconds(180), maxOutputTokens: 400)
        let analyzer = OpenAIAnalyzer(http: run.http, endpoint: endpoint, logger: run.logs.logger("openai"))

        // The key and the model, as `botgateway doctor` checks them: no tokens spent.
        #expect(try await analyzer.checkAccess() == server.model)

        let details = try await run.run("receipt.jpg", analyzer: analyzer, format: .jpeg)
        let lines = run.logs.lines
        // The first call carried the page image; this server has no vision model and said so.
        #expect(lines.contains { $0.contains("the server takes no images or files") }, "\(lines.joined(separator: "\n"))")
        // JSON schema is accepted (llama.cpp turns it into a grammar): no fallback to JSON mode was needed.
        #expect(!lines.contains { $0.contains("refused the response format") })
        // At least one completion was accepted and billed to the step.
        #expect(details.usage.inputTokens > 0 && details.usage.outputTokens > 0)
        #expect(details.usage.costUSD == 0)
        #expect(details.output(of: "ocr") != nil)
        switch details.job.state {
        case .done:
            let analysis = try Analysis.decode(try #require(details.output(of: "analyze")))
            #expect(!analysis.title.isEmpty && !analysis.summary.isEmpty)
            #expect((0...1).contains(analysis.confidence))
        case .failed:
            #expect(details.job.lastError?.hasPrefix("the analysis model did not return a usable analysis") == true, "\(details.job.lastError ?? "")")
            let report = ReportBuilder().markdown(title: "t", jobs: [details])
            #expect(report.contains("OCR text:") && report.contains("CORNER CAFE"))
        default:
            Issue.record("the job ended \(details.job.state)")
        }
        run.expectKeyNeverShown(server.apiKey, details)
    }

    @Test("a wrong key is refused by the server and reported in plain words",
          .enabled(if: available, "needs scripts/llama-server"), .timeLimit(.minutes(5)))
    func wrongKey() async throws {
        let installation = try #require(LlamaServer.installation)
        let server = try await LlamaServer.start(binary: installation.binary, modelPath: installation.model)
        defer { server.stop() }
        let run = try LLMRun()
        defer { run.close() }
        let wrong = "wrong-\(UUID().uuidString)"
        let analyzer = OpenAIAnalyzer(http: run.http, endpoint: LLMEndpoint(baseURL: server.apiBaseURL, apiKey: APIKey(wrong), model: server.model),
                                      logger: run.logs.logger("openai"))
        let details = try await run.run("letter.png", analyzer: analyzer)
        #expect(details.job.state == .failed)
        #expect(details.job.lastError == "the analysis service rejected the API key")
        run.expectKeyNeverShown(wrong, details)
    }
}
