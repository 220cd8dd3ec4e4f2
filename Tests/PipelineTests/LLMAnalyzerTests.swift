import CurlHTTP
import Foundation
import Logging
import OCR
import Plugins
import Storage
import TestSupport
import Testing

/// The OCR step's result from the fixture's ground truth, so these tests spend their time on the analysers.
struct GroundTruthOCR: Plugin {
    var name: String { OCRPlugin.stepName }
    let format: DocumentFormat
    let text: String
    var corrections = PageCorrections()

    func run(_ context: PluginContext) async throws -> PluginResult {
        let page = OCRPage(index: 0, text: text, confidence: 91, source: .ocr, width: 1200, height: 1600, corrections: corrections, milliseconds: 1)
        return PluginResult(output: try JSONEncoder().encode(OCRResult(format: format, pages: [page], timings: OCRTimings())))
    }
}

/// One fixture through `ocr` (ground truth) → `analyze` (an LLM analyser against its double).
struct LLMRun {
    let store: TestStore
    let logs = LogCapture()
    let http = HTTPClient()

    init() throws {
        store = try TestStore()
    }

    func run(_ fixture: String, analyzer: any Analyzer, format: DocumentFormat = .png) async throws -> JobDetails {
        let data = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture(fixture)))
        let job = try await store.enqueue(data, name: fixture, steps: ["ocr", "analyze"])
        let ocr = GroundTruthOCR(format: format, text: try Paths.truth(fixture))
        let pipeline = Pipeline(queue: store.database, blobs: store.blobs, steps: StepCatalog([ocr, AnalyzePlugin(analyzer: analyzer)]),
                                settings: Pipeline.Settings(retry: RetryPolicy(baseDelay: 0.05, maxDelay: 0.2), leaseSeconds: 30, pollInterval: 0.01),
                                logger: logs.logger("pipeline"))
        await pipeline.run(workers: 1, untilIdle: true)
        return try #require(try await store.database.jobDetails(code: job.code))
    }

    func claude(_ fake: FakeAnthropic, key: String? = nil, options: LLMOptions = LLMOptions()) -> ClaudeAnalyzer {
        ClaudeAnalyzer(http: http, endpoint: LLMEndpoint(baseURL: fake.baseURL, apiKey: APIKey(key ?? fake.apiKey), model: fake.model, timeout: .seconds(20)),
                       options: options, logger: logs.logger("claude"))
    }

    func openAI(_ fake: FakeOpenAI, key: String? = nil) -> OpenAIAnalyzer {
        OpenAIAnalyzer(http: http, endpoint: LLMEndpoint(baseURL: fake.apiBaseURL, apiKey: APIKey(key ?? fake.apiKey), model: fake.model, timeout: .seconds(20)),
                       logger: logs.logger("openai"))
    }

    /// No captured line, and nothing stored, holds the key.
    func expectKeyNeverShown(_ key: String, _ details: JobDetails) {
        for line in logs.lines { #expect(!line.contains(key), "key in log: \(line)") }
        #expect(!(details.job.lastError ?? "").contains(key))
        for step in details.steps {
            #expect(!String(decoding: step.output ?? Data(), as: UTF8.self).contains(key))
            #expect(!(step.error ?? "").contains(key))
        }
    }

    func close() {
        http.shutdown()
        store.remove()
    }
}

@Suite("LLM analysers against their API doubles")
struct LLMAnalyzerTests {
    /// One fixture through a fresh Claude double that first answers `replies`; the double is stopped after,
    /// and the key is checked to be in no log line, error or output.
    func throughClaude(_ fixture: String, format: DocumentFormat = .png, replies: [FakeLLMReply] = []) async throws -> (FakeAnthropic, JobDetails) {
        let fake = try await FakeAnthropic.start()
        fake.enqueue(replies)
        let run = try LLMRun()
        defer { run.close() }
        let details = try await run.run(fixture, analyzer: run.claude(fake), format: format)
        await fake.stop()
        run.expectKeyNeverShown(fake.apiKey, details)
        return (fake, details)
    }

    @Test("claude: the invoice is analysed from OCR text plus a page image, through a forced tool; usage and cost are stored")
    func claudeSuccess() async throws {
        let (fake, details) = try await throughClaude("invoice.png")

        #expect(details.job.state == .done, "\(details.job.lastError ?? "")")
        let analysis = try Analysis.decode(try #require(details.output(of: "analyze")))
        #expect(analysis.title == "\(fake.model) read invoice.png")
        #expect(analysis.documentType == "invoice")
        #expect(analysis.amounts.first?.currency == "EUR")

        let request = try #require(fake.requests.first)
        #expect(request.headers["anthropic-version"] == ClaudeAnalyzer.apiVersion)
        let body = request.json
        #expect((body["tool_choice"] as? [String: Any])?["name"] as? String == AnalysisSchema.toolName)
        let content = ((body["messages"] as? [[String: Any]])?.first?["content"] as? [[String: Any]]) ?? []
        let image = try #require(content.first { $0["type"] as? String == "image" })
        let source = try #require(image["source"] as? [String: Any])
        let bytes = try #require(Data(base64Encoded: (source["data"] as? String) ?? ""))
        #expect(bytes == (try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("invoice.png")))))
        #expect(source["media_type"] as? String == "image/png")
        // The OCR text follows the image, inside its tags.
        let text = try #require(content.last?["text"] as? String)
        #expect(text.contains("<ocr_text>\n\(try Paths.truth("invoice.png"))"))

        let usage = details.usage
        #expect(usage.model == fake.model)
        #expect(usage.inputTokens > 1000 && usage.outputTokens == 150)
        let expected = PriceTable.standard.cost(model: fake.model, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens)
        #expect(abs(usage.costUSD - expected) < 1e-9 && usage.costUSD > 0)
    }

    @Test("claude: a PDF goes as a document block")
    func claudePDF() async throws {
        let (fake, details) = try await throughClaude("utility-bill.pdf", format: .pdf)
        #expect(details.job.state == .done, "\(details.job.lastError ?? "")")
        let content = ((fake.requests.first?.json["messages"] as? [[String: Any]])?.first?["content"] as? [[String: Any]]) ?? []
        let document = try #require(content.first { $0["type"] as? String == "document" })
        #expect((document["source"] as? [String: Any])?["media_type"] as? String == "application/pdf")
    }

    @Test("claude: a PDF the API cannot open is sent again as OCR text only, and analysed")
    func claudeRefusedPDF() async throws {
        let (fake, details) = try await throughClaude("utility-bill.pdf", format: .pdf, replies: [.error(status: 400, type: "invalid_request_error", message: "messages.0.content.0.document.source.base64.data: The PDF specified was not valid.")])
        #expect(details.job.state == .done, "\(details.job.lastError ?? "")")
        #expect(fake.requests.count == 2)
        let retried = "\(fake.requests.last?.json["messages"] ?? "")"
        #expect(!retried.contains("application/pdf") && retried.contains("Only the OCR text is available"))
    }

    @Test("claude: 529 overloaded is transient and the next attempt succeeds")
    func overloadedThenSuccess() async throws {
        let (fake, details) = try await throughClaude("receipt.jpg", format: .jpeg, replies: [.error(status: 529, type: "overloaded_error", message: "Overloaded")])
        #expect(details.job.state == .done)
        #expect(fake.requests.count == 2)
        #expect(details.steps.first { $0.plugin == "analyze" }?.attempts == 2)
    }

    @Test("claude: 429 with retry-after 1 waits about a second, then succeeds")
    func rateLimitedThenSuccess() async throws {
        let (fake, details) = try await throughClaude("letter.png", replies: [.error(status: 429, type: "rate_limit_error", message: "Number of request tokens has exceeded your per-minute rate limit", retryAfter: 1)])
        #expect(details.job.state == .done)
        let times = fake.requests.map(\.receivedAt)
        #expect(times.count == 2)
        let waited = times[1] - times[0]
        // At least what the server asked for; the upper bound only catches a runaway backoff (the suite shares 2 cores).
        #expect(waited >= .milliseconds(950) && waited < .seconds(30), "waited \(waited)")
    }

    @Test("claude: 401 fails at once with plain words; the OCR text stays and the report shows it; the key is nowhere")
    func rejectedKey() async throws {
        let fake = try await FakeAnthropic.start()
        let run = try LLMRun()
        defer { run.close() }
        let wrongKey = "sk-ant-wrong-\(UUID().uuidString)"
        let details = try await run.run("invoice.png", analyzer: run.claude(fake, key: wrongKey))
        await fake.stop()
        #expect(details.job.state == .failed)
        #expect(details.job.lastError == "the analysis service rejected the API key")
        #expect(fake.requests.count == 1)
        #expect(details.output(of: "ocr") != nil)
        let report = ReportBuilder().markdown(title: "t", jobs: [details])
        #expect(report.contains("rejected the API key"))
        #expect(report.contains("OCR text:"))
        #expect(report.contains(String(try Paths.truth("invoice.png").split(separator: "\n").first ?? "")))
        // The capture works: the refused call is in the log (without the key).
        #expect(run.logs.lines.contains { $0.contains("Anthropic call failed") && $0.contains("status=401") }, "\(run.logs.lines)")
        run.expectKeyNeverShown(wrongKey, details)
        run.expectKeyNeverShown(fake.apiKey, details)
    }

    @Test("claude: an answer that is not the schema is asked for once more, then fails clearly; both calls are billed")
    func invalidTwice() async throws {
        let (fake, details) = try await throughClaude("receipt.jpg", format: .jpeg, replies: [.invalidAnalysis, .notJSON])
        #expect(details.job.state == .failed)
        // The reason given is the second answer's: prose instead of the tool call.
        #expect(details.job.lastError == "the analysis model did not return a usable analysis (the model answered without calling record_analysis)",
                "\(details.job.lastError ?? "")")
        #expect(fake.requests.count == 2)
        #expect(details.usage.outputTokens == 300)
        #expect(details.usage.costUSD > 0)
    }

    @Test("claude: an invalid answer then a valid one succeeds")
    func invalidOnceThenValid() async throws {
        let (fake, details) = try await throughClaude("receipt.jpg", format: .jpeg, replies: [.invalidAnalysis])
        #expect(details.job.state == .done)
        #expect(fake.requests.count == 2)
        #expect(details.usage.outputTokens == 300)
    }

    @Test("openai: strict JSON schema, images as data URLs, Bearer key; usage and cost stored")
    func openAISuccess() async throws {
        let fake = try await FakeOpenAI.start()
        let run = try LLMRun()
        defer { run.close() }
        let details = try await run.run("receipt.jpg", analyzer: run.openAI(fake), format: .jpeg)
        await fake.stop()
        #expect(details.job.state == .done, "\(details.job.lastError ?? "")")
        let analysis = try Analysis.decode(try #require(details.output(of: "analyze")))
        #expect(analysis.title == "\(fake.model) read receipt.jpg")
        #expect(analysis.keyFacts.first?.value == fake.model)
        let body = try #require(fake.requests.first).json
        let format = try #require(body["response_format"] as? [String: Any])
        #expect(format["type"] as? String == "json_schema")
        let parts = ((body["messages"] as? [[String: Any]])?.last?["content"] as? [[String: Any]]) ?? []
        #expect(parts.contains { (($0["image_url"] as? [String: Any])?["url"] as? String)?.hasPrefix("data:image/jpeg;base64,/9j/") == true })
        #expect(details.usage.model == fake.model && details.usage.costUSD > 0)
        run.expectKeyNeverShown(fake.apiKey, details)
    }

    @Test("openai: a server without JSON schema or images gets JSON mode and text only, and the answer is still used")
    func openAICompatibleFallback() async throws {
        let fake = try await FakeOpenAI.start(model: "local-model", supportsJSONSchema: false, supportsImages: false)
        let run = try LLMRun()
        defer { run.close() }
        let analyzer = run.openAI(fake)
        let details = try await run.run("invoice.png", analyzer: analyzer)
        #expect(details.job.state == .done, "\(details.job.lastError ?? "")")
        let modes = fake.requests.map { ($0.json["response_format"] as? [String: Any])?["type"] as? String ?? "none" }
        #expect(modes == ["json_schema", "json_schema", "json_object"])
        #expect(details.usage.costUSD == 0)

        // Learnt: the next document goes straight to JSON mode, text only.
        let second = try await run.run("letter.png", analyzer: analyzer)
        await fake.stop()
        #expect(second.job.state == .done)
        #expect(fake.requests.count == 4)
        #expect(fake.requests.last?.json["messages"].map { "\($0)" }?.contains("image_url") == false)
    }

    @Test("openai: a 401 echoing a masked key fails with plain words and leaks nothing; quota exhaustion is permanent")
    func openAIRejected() async throws {
        let fake = try await FakeOpenAI.start()
        let run = try LLMRun()
        defer { run.close() }
        let wrongKey = "sk-proj-wrong\(UUID().uuidString.prefix(8))"
        let details = try await run.run("invoice.png", analyzer: run.openAI(fake, key: wrongKey))
        #expect(details.job.lastError == "the analysis service rejected the API key")
        run.expectKeyNeverShown(wrongKey, details)
        #expect(!run.logs.lines.joined().contains(String(wrongKey.suffix(4)) + "."), "masked key fragment reached the log")

        fake.enqueue(.error(status: 429, type: "insufficient_quota", message: "You exceeded your current quota", code: "insufficient_quota"))
        let quota = try await run.run("letter.png", analyzer: run.openAI(fake))
        await fake.stop()
        #expect(quota.job.state == .failed)
        #expect(quota.job.lastError == "the analysis service account is out of credit")
        #expect(quota.steps.first { $0.plugin == "analyze" }?.attempts == 1)
    }

    @Test("failures retrying cannot fix are permanent: a spend limit (429), a context overflow (llama.cpp's 500)")
    func notWorthRetrying() async throws {
        let claude = try await FakeAnthropic.start()
        claude.enqueue(.error(status: 429, type: "rate_limit_error", message: "You have reached your specified API usage limits.",
                              code: "enforced_spend_limit_reached"))
        let openAI = try await FakeOpenAI.start(model: "local-model")
        openAI.enqueue(.error(status: 500, type: "server_error", message: "Context size has been exceeded."))
        let run = try LLMRun()
        defer { run.close() }
        let spent = try await run.run("letter.png", analyzer: run.claude(claude))
        let overflow = try await run.run("receipt.jpg", analyzer: run.openAI(openAI), format: .jpeg)
        await claude.stop()
        await openAI.stop()
        #expect(spent.job.lastError == "the analysis service account is out of credit")
        #expect(overflow.job.lastError?.hasPrefix("the document is too long for the model's context window") == true, "\(overflow.job.lastError ?? "")")
        #expect(claude.requests.count == 1 && openAI.requests.count == 1)
    }

    @Test("the analysis is asked for in the sender's language")
    func language() async throws {
        let fake = try await FakeAnthropic.start()
        let run = try LLMRun()
        defer { run.close() }
        let data = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("letter.png")))
        let document = try await DocumentIntake(blobs: run.store.blobs).take(data: data, displayName: "letter.png")
        _ = try await run.store.database.saveDocument(document)
        let job = try await run.store.database.enqueue(documentSHA256: document.sha256,
                                                       request: JobRequest(origin: .telegram, sourceName: "letter.png", chatID: 5, languageCode: "de"),
                                                       steps: ["ocr", "analyze"]).job
        let pipeline = Pipeline(queue: run.store.database, blobs: run.store.blobs,
                                steps: StepCatalog([GroundTruthOCR(format: .png, text: try Paths.truth("letter.png")), AnalyzePlugin(analyzer: run.claude(fake))]),
                                logger: Paths.quiet)
        await pipeline.run(workers: 1, untilIdle: true)
        await fake.stop()
        #expect(try await run.store.database.jobDetails(code: job.code)?.job.state == .done)
        let asked = FakeAnthropic.messageText(fake.requests.first?.json ?? [:])
        #expect(asked.contains("ISO 639-1 code 'de'"))
    }

    @Test("a consolidated report gains the model's executive summary; its cost joins the total and /stats")
    func executiveSummary() async throws {
        let fake = try await FakeAnthropic.start()
        let run = try LLMRun()
        defer { run.close() }
        let claude = run.claude(fake)
        let first = try await run.run("invoice.png", analyzer: claude)
        let second = try await run.run("receipt.jpg", analyzer: claude, format: .jpeg)
        let report = await ReportComposer(summarizer: claude, usage: run.store.database, logger: run.logs.logger("report"))
            .markdown(title: "Two documents", jobs: [first, second])
        await fake.stop()
        #expect(report.contains("### Summary"))
        #expect(report.contains("Executive summary by \(fake.model)"))
        #expect(report.contains("(summary: $"))
        let summaryCall = try #require(fake.requests.last).json
        #expect(summaryCall["tools"] == nil)
        let stats = try await run.store.database.stats()
        #expect(stats.outputTokens == 150 * 3)
        #expect(stats.costUSD > first.usage.costUSD + second.usage.costUSD)
    }

    @Test("a summary that cannot be had leaves a note, not a missing report")
    func summaryFails() async throws {
        let fake = try await FakeAnthropic.start()
        let run = try LLMRun()
        defer { run.close() }
        let claude = run.claude(fake)
        let details = try await run.run("invoice.png", analyzer: claude)
        fake.enqueue(.error(status: 400, type: "invalid_request_error", message: "prompt is too long"))
        let report = await ReportComposer(summarizer: claude, usage: run.store.database, logger: Paths.quiet)
            .markdown(title: "One", jobs: [details])
        await fake.stop()
        #expect(report.contains("_No summary: the analysis service refused the request: prompt is too long._"))
        #expect(report.contains("## Documents"))
    }
}

@Suite("Analysis schema, validation and prices")
struct AnalysisSchemaTests {
    @Test("answers are tidied: fenced JSON, percent confidence, bad dates and currencies dropped, unknown type is other")
    func tidy() throws {
        let text = """
        Here you go:
        ```json
        {"document_type": "Invoice", "title": " Invoice 7 ", "summary": "An invoice.", "language": "EN-gb",
         "key_facts": [{"label": "Ref", "value": "7"}, {"label": "", "value": "x"}], "dates": ["2024-02-30", "2024-02-29", "soon"],
         "amounts": [{"value": 12.5, "currency": "eur", "label": "Total"}, {"value": 3, "currency": "euros", "label": "Tip"}],
         "parties": ["Acme", "acme", ""], "action_items": [], "confidence": 87}
        ```
        """
        let analysis = try AnalysisSchema.validate(text: text)
        #expect(analysis.documentType == "invoice")
        #expect(analysis.title == "Invoice 7")
        #expect(analysis.language == "en")
        #expect(analysis.keyFacts.count == 1)
        #expect(analysis.dates == ["2024-02-29"])
        #expect(analysis.amounts.map(\.currency) == ["EUR", nil])
        #expect(analysis.parties == ["Acme"])
        #expect(analysis.confidence == 0.87)
        #expect((try? AnalysisSchema.validate(text: #"{"document_type": "letter", "title": "x"}"#)) == nil)
        #expect(throws: AnalysisSchema.Rejection.self) { try AnalysisSchema.validate(text: "no json here") }
    }

    @Test("the receipt fields of an answer are tidied: currency codes upper-cased or dropped, impossible dates dropped, confidences clamped")
    func receiptFields() throws {
        let text = """
        {"document_type": "receipt", "title": "Receipt", "summary": "A receipt.", "language": "en", "key_facts": [], "dates": [],
         "amounts": [], "parties": [], "action_items": [], "confidence": 0.9,
         "document_date": "2024-02-30", "issuer": "  Corner Cafe ", "currency": "myr",
         "total": {"value": 10.9, "currency": "rm", "label": " TOTAL "}, "tax": {"value": 0.62, "currency": "MYR", "label": "SST"},
         "line_items": [{"description": " Coffee ", "quantity": 2, "unit_price": 1.75, "amount": 3.5}, {"description": " ", "quantity": null, "unit_price": null, "amount": 1}],
         "field_confidence": {"total": 1.4, "date": -1, "issuer": 0.8, "currency": 0.9, "tax": 0.5}}
        """
        let analysis = try AnalysisSchema.validate(text: text)
        #expect(analysis.documentDate == nil)
        #expect(analysis.issuer == "Corner Cafe")
        #expect(analysis.currency == "MYR")
        #expect(analysis.total == .init(value: Decimal(string: "10.9")!, currency: nil, label: "TOTAL"))
        #expect(analysis.primaryAmount?.value == Decimal(string: "10.9"))
        #expect(analysis.tax?.currency == "MYR")
        #expect(analysis.lineItems == [.init(description: "Coffee", quantity: 2, unitPrice: Decimal(string: "1.75"), amount: Decimal(string: "3.5"))])
        #expect(analysis.fieldConfidence?["total"] == 1 && analysis.fieldConfidence?["date"] == 0)
        // An answer without them (an older prompt, a terse model) is still a whole analysis.
        let bare = try AnalysisSchema.validate(text: #"{"document_type": "receipt", "title": "R", "summary": "S.", "language": "en", "key_facts": [], "dates": [], "amounts": [], "parties": [], "action_items": [], "confidence": 0.5}"#)
        #expect(bare.total == nil && bare.lineItems == nil && bare.primaryAmount == nil)
    }

    @Test("the schema is strict-mode valid: every object closed and fully required")
    func strictSchema() {
        #expect(FakeOpenAI.strictProblem(AnalysisSchema.jsonSchema(), context: "") == nil)
    }

    @Test("prices: a dated model id takes its family's price; unknown models cost nothing; a file overrides")
    func prices() throws {
        let table = PriceTable.standard
        #expect(table.price(for: "claude-sonnet-4-5-20250929") == PriceTable.Price(input: 3, output: 15))
        #expect(table.price(for: "gpt-4o-mini-2024-07-18") == PriceTable.Price(input: 0.15, output: 0.6))
        #expect(table.cost(model: "claude-haiku-4-5", inputTokens: 1_000_000, outputTokens: 1_000_000) == 6)
        #expect(table.cost(model: "SmolLM2-135M-Instruct", inputTokens: 5000, outputTokens: 500) == 0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("prices-\(UUID().uuidString).json")
        try Data(#"{"SmolLM2-135M-Instruct": {"input": 0.01, "output": 0.02}, "claude-sonnet-4-5": {"input": 2, "output": 10}}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let custom = try PriceTable.loading(overridesAt: file.path)
        #expect(custom.price(for: "smollm2-135m-instruct") == PriceTable.Price(input: 0.01, output: 0.02))
        #expect(custom.price(for: "claude-sonnet-4-5-20250929") == PriceTable.Price(input: 2, output: 10))
    }

    @Test("page images: turned upright, shrunk to the long-edge limit, the smaller of JPEG and PNG; small upright files go as they are")
    func pageImages() throws {
        let encoder = PageImageEncoder(maxEdge: 800)
        var turned = PageCorrections()
        turned.quarterTurns = 1
        let contract = try encoder.pages(path: Paths.fixture("contract-2pages.tif"), corrections: [turned])
        #expect(contract.count == 2)
        #expect(contract.allSatisfy { max($0.width, $0.height) == 800 && ["image/jpeg", "image/png"].contains($0.mediaType) })
        // Both stored pages are wide (1240 × 684 and 1240 × 528); the first was turned a quarter.
        #expect(contract[0].width < contract[0].height && contract[1].width > contract[1].height)
        #expect(contract.allSatisfy { $0.data.starts(with: [0xFF, 0xD8, 0xFF]) || $0.data.starts(with: [0x89, 0x50, 0x4E, 0x47]) })

        let receipt = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("receipt.jpg")))
        let asIs = try PageImageEncoder().pages(path: Paths.fixture("receipt.jpg"))
        #expect(asIs == [PageImage(data: receipt, mediaType: "image/jpeg", width: asIs[0].width, height: asIs[0].height)])
        // Rotated by EXIF: decoded and turned, not passed through.
        var exif = PageCorrections()
        exif.quarterTurns = 1
        let upright = try PageImageEncoder().pages(path: Paths.fixture("receipt-exif-rotated.jpg"), corrections: [exif])
        let stored = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("receipt-exif-rotated.jpg")))
        #expect(upright.count == 1 && upright[0].data != stored)
        #expect(throws: OCRError.self) { try encoder.pages(path: Paths.fixture("bad/truncated.png")) }
    }
}
