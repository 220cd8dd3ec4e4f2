import CurlHTTP
import Foundation
import Logging
import Storage

/// Analyses documents with Claude through the Messages API: the OCR text plus the document itself (page
/// images as base64 image blocks, PDFs as a document block), the answer forced through a tool whose input
/// schema is SPEC §6's analysis, then validated. An answer that fails validation is asked for once more.
public struct ClaudeAnalyzer: Analyzer, ReportSummarizer {
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
        var attachment = await DocumentAttachment.load(input, settings: options.pageImages, send: options.sendDocument)
        if case .none(let reason) = attachment { logger.debug("sending OCR text only", metadata: ["reason": "\(reason)"]) }
        var usage = StepUsage(model: transport.endpoint.model)
        var rejection = ""
        var invalidAnswers = 0
        // Two invalid answers end it; a document the API refuses (a PDF it cannot open) costs one more call, as text.
        for _ in 0..<3 {
            let answer: [String: Any]
            do {
                answer = try await transport.post("/v1/messages", body: body(input, attachment: attachment), headers: headers)
            } catch let failure as LLMTransport.Failure {
                if failure.status == 400, !attachment.isEmpty, Self.refusesDocument(failure.message.lowercased()) {
                    logger.notice("the API refused the attached document; sending OCR text only", metadata: ["message": "\(failure.message)"])
                    attachment = .none(reason: "the analysis service refused the attached document")
                    continue
                }
                logger.warning("Anthropic call failed", metadata: ["status": "\(failure.status)", "type": "\(failure.type ?? "")", "message": "\(failure.message)"])
                throw transport.pluginError(failure, usage: usage)
            } catch var error as PluginError {
                error.usage = usage + error.usage
                throw error
            }
            usage = usage + self.usage(of: answer)
            do {
                return (try Self.analysis(from: answer), usage)
            } catch {
                rejection = error.reason
                invalidAnswers += 1
                logger.warning("Claude's answer was not a valid analysis", metadata: ["attempt": "\(invalidAnswers)", "reason": "\(error.reason)"])
                if invalidAnswers == 2 { break }
            }
        }
        throw PluginError(.permanent, "the analysis model did not return a usable analysis (\(rejection))", usage: usage)
    }

    static func refusesDocument(_ message: String) -> Bool {
        ["image", "pdf", "document", "media_type", "base64", "page"].contains { message.contains($0) }
    }

    func usage(of answer: [String: Any]) -> StepUsage {
        let counts = answer["usage"] as? [String: Any] ?? [:]
        // Cache writes and reads are input too (we never ask for caching, but a proxy might).
        let input = ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"].reduce(0) { $0 + ((counts[$1] as? Int) ?? 0) }
        let output = counts["output_tokens"] as? Int ?? 0
        let model = answer["model"] as? String ?? transport.endpoint.model
        return StepUsage(model: model, inputTokens: input, outputTokens: output,
                         costUSD: options.prices.cost(model: model, inputTokens: input, outputTokens: output))
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
        do {
            let model = try await transport.get("/v1/models/\(transport.endpoint.model)", headers: headers)
            return model["display_name"] as? String ?? transport.endpoint.model
        } catch let failure as LLMTransport.Failure {
            throw transport.pluginError(failure, usage: StepUsage())
        }
    }

    public func summarize(_ request: SummaryRequest) async throws -> (String, StepUsage) {
        let body: [String: Any] = [
            "model": transport.endpoint.model,
            "max_tokens": 1024,
            "temperature": 0,
            "system": AnalysisPrompt.summarySystem,
            "messages": [["role": "user", "content": request.prompt()]],
        ]
        let answer: [String: Any]
        do {
            answer = try await transport.post("/v1/messages", body: body, headers: headers, timeout: transport.summaryTimeout)
        } catch let failure as LLMTransport.Failure {
            throw transport.pluginError(failure, usage: StepUsage())
        }
        let usage = self.usage(of: answer)
        let text = (answer["content"] as? [[String: Any]] ?? []).filter { $0["type"] as? String == "text" }
            .compactMap { $0["text"] as? String }.joined(separator: "\n")
        return (text, usage)
    }
}
