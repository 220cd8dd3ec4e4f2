import CurlHTTP
import Foundation
import Logging
import Storage

/// Analyses documents through the Chat Completions API, so it serves OpenAI and any compatible server
/// (Ollama, llama.cpp, vLLM): the OCR text plus page images as data URLs (a PDF as a file part), the answer
/// constrained by `response_format` with SPEC §6's schema in strict mode, then validated.
///
/// Compatible servers differ in what they take. When one refuses the JSON schema, the analyser falls back
/// to JSON mode (schema in the prompt), then to plain prompting; when one refuses images or files, to the
/// OCR text alone. What was learnt is remembered for the life of the process, so later documents do not
/// pay for the refusals again.
public struct OpenAIAnalyzer: Analyzer, ReportSummarizer, QuestionAnswerer {
    public static let defaultModel = "gpt-4.1-mini"
    public static let defaultBaseURL = "https://api.openai.com/v1"

    public var name: String { "openai" }
    public var model: String { transport.endpoint.model }

    let transport: LLMTransport
    let options: LLMOptions
    let logger: Logger
    let compatibility = Compatibility()

    public init(http: HTTPClient, endpoint: LLMEndpoint, options: LLMOptions = LLMOptions(), logger: Logger = Logger(label: "openai")) {
        self.transport = LLMTransport(http: http, endpoint: endpoint, service: "OpenAI")
        self.options = options
        self.logger = logger
    }

    enum OutputMode: Int, Sendable, Comparable {
        case jsonSchema, jsonObject, prompt

        static func < (lhs: OutputMode, rhs: OutputMode) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// What this server was found to refuse.
    actor Compatibility {
        var outputMode = OutputMode.jsonSchema
        var takesAttachments = true

        func degrade(to mode: OutputMode) { outputMode = max(outputMode, mode) }
        func refuseAttachments() { takesAttachments = false }
    }

    var headers: [(name: String, value: String)] {
        transport.endpoint.apiKey.map { [(name: "Authorization", value: "Bearer \($0.value)")] } ?? []
    }

    /// OpenAI's own API wants `max_completion_tokens` (reasoning models refuse `max_tokens`); compatible
    /// servers know `max_tokens`.
    var tokenLimitField: String {
        transport.endpoint.host.hasSuffix("openai.com") ? "max_completion_tokens" : "max_tokens"
    }

    func body(_ input: AnalysisInput, attachment: DocumentAttachment, mode: OutputMode) -> [String: Any] {
        let text = AnalysisRequestText.make(input, attachment: attachment, maxCharacters: options.maxTextCharacters, schemaInText: mode != .jsonSchema)
        let userContent: Any
        switch attachment {
        case .none:
            userContent = text
        case .pages(let pages):
            userContent = [["type": "text", "text": text]] + pages.map { page -> [String: Any] in
                ["type": "image_url", "image_url": ["url": "data:\(page.mediaType);base64," + page.data.base64EncodedString(), "detail": "high"]]
            }
        case .pdf(let data):
            let name = input.fileName.lowercased().hasSuffix(".pdf") ? input.fileName : "document.pdf"
            userContent = [["type": "text", "text": text],
                           ["type": "file", "file": ["filename": name, "file_data": "data:application/pdf;base64," + data.base64EncodedString()]]]
        }
        var body: [String: Any] = [
            "model": transport.endpoint.model,
            "messages": [["role": "system", "content": options.systemPrompt], ["role": "user", "content": userContent]],
            tokenLimitField: transport.endpoint.maxOutputTokens,
        ]
        switch mode {
        case .jsonSchema:
            body["response_format"] = ["type": "json_schema",
                                       "json_schema": ["name": "document_analysis", "strict": true, "schema": AnalysisSchema.jsonSchema()]]
        case .jsonObject:
            body["response_format"] = ["type": "json_object"]
        case .prompt:
            break
        }
        return body
    }

    public func analyze(_ input: AnalysisInput) async throws -> (Analysis, StepUsage) {
        let takesAttachments = await compatibility.takesAttachments
        var attachment = await DocumentAttachment.load(input, settings: options.pageImages, send: options.sendDocument && takesAttachments)
        var mode = await compatibility.outputMode
        var request = body(input, attachment: attachment, mode: mode)
        // Each refusal of a feature costs one extra call, at most three in all; two invalid answers end it.
        return try await transport.analyze(maxCalls: 5, prices: options.prices, logger: logger,
            call: { try await transport.post("/chat/completions", body: request, headers: headers) },
            recover: { failure in
                guard [400, 422, 500, 501].contains(failure.status) else { return false }
                let refused = failure.message.lowercased()
                if !attachment.isEmpty, Self.refusesAttachments(refused) {
                    logger.notice("the server takes no images or files; sending OCR text only", metadata: ["host": "\(transport.endpoint.host)", "message": "\(failure.message)"])
                    await compatibility.refuseAttachments()
                    attachment = .none(reason: "the analysis server takes no images or files")
                } else if mode != .prompt, Self.refusesOutputFormat(refused) {
                    let next: OutputMode = mode == .jsonSchema ? .jsonObject : .prompt
                    logger.notice("the server refused the response format; falling back", metadata: ["from": "\(mode)", "to": "\(next)", "message": "\(failure.message)"])
                    await compatibility.degrade(to: next)
                    mode = next
                } else {
                    return false
                }
                request = body(input, attachment: attachment, mode: mode)
                return true
            },
            tokens: Self.tokens,
            parse: Self.analysis)
    }

    static func refusesAttachments(_ message: String) -> Bool {
        ["image", "mmproj", "multimodal", "vision", "image_url", "file input", "'file'", "content part", "content type", "unsupported content"]
            .contains { message.contains($0) }
    }

    static func refusesOutputFormat(_ message: String) -> Bool {
        ["response_format", "json_schema", "json schema", "grammar", "schema", "json_object", "structured output"].contains { message.contains($0) }
    }

    static func tokens(_ answer: [String: Any]) -> (input: Int, output: Int) {
        let counts = answer["usage"] as? [String: Any] ?? [:]
        return (counts["prompt_tokens"] as? Int ?? 0, counts["completion_tokens"] as? Int ?? 0)
    }

    static func message(of answer: [String: Any]) throws(AnalysisSchema.Rejection) -> String {
        guard let choice = (answer["choices"] as? [[String: Any]])?.first, let message = choice["message"] as? [String: Any] else {
            throw AnalysisSchema.Rejection(reason: "the answer had no choices")
        }
        if let refusal = message["refusal"] as? String, !refusal.isEmpty {
            throw AnalysisSchema.Rejection(reason: "the model refused: \(refusal.prefix(200))")
        }
        if choice["finish_reason"] as? String == "length" {
            throw AnalysisSchema.Rejection(reason: "the answer was cut off at the output token limit")
        }
        return message["content"] as? String ?? ""
    }

    static func analysis(from answer: [String: Any]) throws(AnalysisSchema.Rejection) -> Analysis {
        try AnalysisSchema.validate(text: message(of: answer))
    }

    /// Checks the key and that the server lists the model, without spending tokens (`GET /models`).
    public func checkAccess() async throws -> String {
        let listing = try await transport.single("/models", body: nil, headers: headers)
        let models = (listing["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        guard models.isEmpty || models.contains(transport.endpoint.model) else {
            throw PluginError.permanent("the server does not list model \(transport.endpoint.model) (it has: \(models.prefix(5).joined(separator: ", ")))")
        }
        return transport.endpoint.model
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
            "messages": [["role": "system", "content": system], ["role": "user", "content": prompt]],
            tokenLimitField: maxTokens,
        ]
        let answer = try await transport.single("/chat/completions", body: body, headers: headers, timeout: transport.summaryTimeout)
        return (try Self.message(of: answer), transport.usage(of: answer, tokens: Self.tokens(answer), prices: options.prices))
    }
}
