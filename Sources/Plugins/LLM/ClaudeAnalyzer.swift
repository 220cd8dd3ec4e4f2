import CurlHTTP
import Foundation
import Logging
import Storage

/// Analyses documents with Claude through the Messages API: the OCR text plus the document itself (page
/// images as base64 image blocks, PDFs as a document block), the answer forced through a tool whose input
/// schema is SPEC §6's analysis, then validated. An answer that fails validation is asked for once more.
public struct ClaudeAnalyzer: Analyzer, ReportSummarizer, QuestionAnswerer {
    public static let apiVersion = "2023-06-01"
    public static let defaultModel = "claude-sonnet-4-5"
    public static let defaultBaseURL = "https://api.anthropic.com"

    public var name: String { "claude" }
    public var model: String { transport.endpoint.model }

    let transport: LLMTransport
    let options: LLMOptions
    let logger: Logger

    public init(http: HTTPClient, endpoint: LLMEndpoint, options: LLMOptions = LLMOptions(), logger: Logger = Logger(label: "claude")) {
        self.transport = LLMTransport(http: http, endpoint: endpoint, service: "Anthropic")
        self.options = options
        self.logger = logger
    }

    var headers: [(name: String, value: String)] {
        var headers = [(name: "anthropic-version", value: Self.apiVersion)]
        if let key = transport.endpoint.apiKey { headers.append((name: "x-api-key", value: key.value)) }
        return headers
    }

    func body(_ input: AnalysisInput, attachment: DocumentAttachment) -> [String: Any] {
        var content: [[String: Any]] = []
        switch attachment {
        case .pdf(let data):
            content.append(["type": "document", "source": ["type": "base64", "media_type": "application/pdf", "data": data.base64EncodedString()]])
        case .pages(let pages):
            for page in pages {
                content.append(["type": "image", "source": ["type": "base64", "media_type": page.mediaType, "data": page.data.base64EncodedString()]])
            }
        case .none:
            break
        }
        // Images first, then the text that refers to them: what Anthropic's vision guide recommends.
        content.append(["type": "text", "text": AnalysisRequestText.make(input, attachment: attachment, maxCharacters: options.maxTextCharacters, schemaInText: false)])
        return [
            "model": transport.endpoint.model,
            "max_tokens": transport.endpoint.maxOutputTokens,
            "temperature": 0,
            "system": options.systemPrompt,
            "tools": [["name": AnalysisSchema.toolName, "description": "Record the analysis of the document.",
                       "input_schema": AnalysisSchema.jsonSchema()]],
            "tool_choice": ["type": "tool", "name": AnalysisSchema.toolName],
            "messages": [["role": "user", "content": content]],
        ]
    }

    public func analyze(_ input: AnalysisInput) async throws -> (Analysis, StepUsage) {
        let attachment = await DocumentAttachment.load(input, settings: options.pageImages, send: options.sendDocument)
        if case .none(let reason) = attachment { logger.debug("sending OCR text only", metadata: ["reason": "\(reason)"]) }
        // Built once (base64 of the pages) and again only when the document has to go as text.
        var request = body(input, attachment: attachment)
        var attached = !attachment.isEmpty
        // Two invalid answers end it; a document the API refuses (a PDF it cannot open) costs one more call, as text.
        return try await transport.analyze(maxCalls: 3, prices: options.prices, logger: logger,
            call: { try await transport.post("/v1/messages", body: request, headers: headers) },
            recover: { failure in
                guard failure.status == 400, attached, Self.refusesDocument(failure.message.lowercased()) else { return false }
                logger.notice("the API refused the attached document; sending OCR text only", metadata: ["message": "\(failure.message)"])
                request = body(input, attachment: .none(reason: "the analysis service refused the attached document"))
                attached = false
                return true
            },
            tokens: Self.tokens,
            parse: Self.analysis)
    }

    static func refusesDocument(_ message: String) -> Bool {
        ["image", "pdf", "document", "media_type", "base64", "page"].contains { message.contains($0) }
    }

    /// Cache writes and reads are input too (we never ask for caching, but a proxy might).
    static func tokens(_ answer: [String: Any]) -> (input: Int, output: Int) {
        let counts = answer["usage"] as? [String: Any] ?? [:]
        let input = ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"].reduce(0) { $0 + ((counts[$1] as? Int) ?? 0) }
        return (input, counts["output_tokens"] as? Int ?? 0)
    }

    static func analysis(from answer: [String: Any]) throws(AnalysisSchema.Rejection) -> Analysis {
        let blocks = answer["content"] as? [[String: Any]] ?? []
        guard let call = blocks.first(where: { $0["type"] as? String == "tool_use" && $0["name"] as? String == AnalysisSchema.toolName }) else {
            if answer["stop_reason"] as? String == "refusal" { throw AnalysisSchema.Rejection(reason: "the model refused") }
            throw AnalysisSchema.Rejection(reason: "the model answered without calling \(AnalysisSchema.toolName)")
        }
        if answer["stop_reason"] as? String == "max_tokens" {
            throw AnalysisSchema.Rejection(reason: "the answer was cut off at the output token limit")
        }
        return try AnalysisSchema.validate(object: call["input"] ?? [:])
    }

    /// Checks the key and the model without spending tokens (`GET /v1/models/{model}`); returns the model's name.
    public func checkAccess() async throws -> String {
        let model = try await transport.single("/v1/models/\(transport.endpoint.model)", body: nil, headers: headers)
        return model["display_name"] as? String ?? transport.endpoint.model
    }

    public func summarize(_ request: SummaryRequest) async throws -> (String, StepUsage) {
        try await write(system: AnalysisPrompt.summarySystem, prompt: request.prompt(), maxTokens: 1024)
    }

    public func answer(_ request: QuestionRequest) async throws -> (String, StepUsage) {
        try await write(system: AnalysisPrompt.askSystem, prompt: request.prompt(), maxTokens: 700)
    }

    /// One plain-text exchange (a summary, an answer): not retried here, the caller has a fallback.
    private func write(system: String, prompt: String, maxTokens: Int) async throws -> (String, StepUsage) {
        let body: [String: Any] = [
            "model": transport.endpoint.model,
            "max_tokens": maxTokens,
            "temperature": 0,
            "system": system,
            "messages": [["role": "user", "content": prompt]],
        ]
        let answer = try await transport.single("/v1/messages", body: body, headers: headers, timeout: transport.summaryTimeout)
        let text = (answer["content"] as? [[String: Any]] ?? []).filter { $0["type"] as? String == "text" }
            .compactMap { $0["text"] as? String }.joined(separator: "\n")
        return (text, transport.usage(of: answer, tokens: Self.tokens(answer), prices: options.prices))
    }
}
