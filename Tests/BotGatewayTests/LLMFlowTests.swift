import BotGateway
import CurlHTTP
import Foundation
import Plugins
import TestSupport
import Testing

/// The bot with the Claude analyser, against the Telegram and Anthropic doubles.
@Suite("Telegram flow with an LLM analyser")
struct LLMFlowTests {
    static func claude(_ fake: FakeAnthropic, key: String? = nil) -> @Sendable (HTTPClient) -> any Analyzer & ReportSummarizer {
        let endpoint = LLMEndpoint(baseURL: fake.baseURL, apiKey: APIKey(key ?? fake.apiKey), model: fake.model, timeout: .seconds(20))
        return { http in ClaudeAnalyzer(http: http, endpoint: endpoint, logger: GatewayHarness.quiet) }
    }

    @Test("a photo is answered with the model's analysis; tokens and cost show in /stats and /metrics")
    func analysed() async throws {
        let fake = try await FakeAnthropic.start()
        let gateway = try await GatewayHarness.start(admins: [1], analyzer: Self.claude(fake))
        gateway.telegram.addFile(id: "receipt", data: try GatewayHarness.fixture("receipt.jpg"))
        #expect(try await gateway.post(Updates.photo(update: 10, user: 1, message: 501, file: "receipt")) == 200)
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("\(fake.model) read ") } })
        #expect(try await gateway.post(Updates.text(update: 11, user: 1, message: 502, "/stats")) == 200)
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("LLM: ") } })
        let stats = try #require(gateway.telegram.messages(to: 1).last { $0.text.contains("LLM: ") })
        #expect(stats.text.range(of: #"LLM: \d+ input \+ 150 output tokens, \$0\.\d{4}"#, options: .regularExpression) != nil, "\(stats.text)")
        let metrics = String(decoding: try await gateway.http.send(.init(url: "http://127.0.0.1:\(gateway.port)/metrics")).body, as: UTF8.self)
        #expect(metrics.contains("botgateway_llm_tokens_total"), "\(metrics)")
        #expect(metrics.contains("botgateway_llm_cost_usd_total"))
        // The photo went along, in the sender's language setting.
        let body = try #require(fake.requests.first).json
        #expect("\(body)".contains("image/jpeg"))
        await gateway.stop()
        await fake.stop()
    }

    @Test("a rejected key is told plainly and the OCR text still reaches the user")
    func rejectedKey() async throws {
        let fake = try await FakeAnthropic.start()
        let gateway = try await GatewayHarness.start(admins: [1], analyzer: Self.claude(fake, key: "sk-ant-revoked-0000"))
        gateway.telegram.addFile(id: "receipt", data: try GatewayHarness.fixture("receipt.jpg"))
        #expect(try await gateway.post(Updates.photo(update: 20, user: 1, message: 601, file: "receipt")) == 200)
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("rejected the API key") } })
        let reply = try #require(gateway.telegram.messages(to: 1).last)
        #expect(reply.text.contains("could not analyse it: the analysis service rejected the API key"))
        #expect(reply.text.contains("CORNER CAFE"), "\(reply.text)")
        #expect(reply.replyTo == 601)
        #expect(!reply.text.contains("sk-ant-revoked"))
        #expect(fake.requests.count == 1)
        await gateway.stop()
        await fake.stop()
    }

    @Test("an album's consolidated reply leads with the model's executive summary")
    func albumSummary() async throws {
        let fake = try await FakeAnthropic.start()
        let gateway = try await GatewayHarness.start(admins: [1], albumQuiet: 0.6, analyzer: Self.claude(fake))
        for name in ["receipt.jpg", "invoice.png"] {
            gateway.telegram.addFile(id: name, data: try GatewayHarness.fixture(name))
        }
        for (index, name) in ["receipt.jpg", "invoice.png"].enumerated() {
            try await gateway.post(Updates.photo(update: Int64(80 + index), user: 1, message: Int64(800 + index), file: name, album: "B1"))
        }
        // The album is read before it is assembled: under the whole suite's load that took 26 s of the default 30.
        #expect(await gateway.telegram.waitFor(timeout: .seconds(120)) { $0.contains { $0.text.contains("Album of 2 documents") } })
        let reply = try #require(gateway.telegram.messages(to: 1).last)
        #expect(reply.text.contains("<b>Summary</b>\n• Executive summary by \(fake.model)"), "\(reply.text)")
        #expect(reply.text.contains("\(fake.model) read "))
        // Two analyses and one summary.
        #expect(fake.requests.count == 3)
        #expect(fake.requests.last?.json["tools"] == nil)
        await gateway.stop()
        await fake.stop()
    }

    @Test("/report's Markdown gains the model's executive summary, written in the sender's language")
    func reportSummary() async throws {
        let fake = try await FakeAnthropic.start()
        let gateway = try await GatewayHarness.start(admins: [1], analyzer: Self.claude(fake))
        gateway.telegram.addFile(id: "receipt", data: try GatewayHarness.fixture("receipt.jpg"))
        try await gateway.post(Updates.photo(update: 90, user: 1, message: 10, file: "receipt"))
        #expect(await gateway.telegram.waitFor { $0.contains { $0.text.contains("\(fake.model) read ") } })
        try await gateway.post(Updates.text(update: 91, user: 1, message: 11, "/report"))
        #expect(await gateway.telegram.waitFor { $0.contains { $0.method == "sendDocument" } })
        let folder = gateway.directory.appendingPathComponent("reports")
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasPrefix("chat-1-") })
        let report = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
        #expect(report.contains("### Summary\n\n- Executive summary by \(fake.model)"), "\(report)")
        #expect(report.contains("(summary: $"))
        let summaryCall = try #require(fake.requests.last)
        #expect(summaryCall.json["tools"] == nil)
        // Updates.user gives language_code "en".
        #expect(FakeLLMBase.messageText(summaryCall.json).contains("ISO 639-1 code 'en'"))
        await gateway.stop()
        await fake.stop()
    }
}
