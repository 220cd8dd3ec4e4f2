import Foundation
import Hummingbird

/// An OpenAI Chat Completions double: `POST /v1/chat/completions` checked as the API does (Bearer key,
/// `model`, `messages`, content parts, `response_format` — a strict JSON schema must close every object
/// and require every property; JSON mode needs the word "json" in the messages), answering the documented
/// `chat.completion` object with `usage`, or `{"error":{"message","type","param","code"}}`.
/// `supportsJSONSchema` and `supportsImages` make it behave like a compatible server that lacks them.
public final class FakeOpenAI: FakeLLMBase, @unchecked Sendable {
    private let supportsJSONSchema: Bool
    private let supportsImages: Bool

    init(apiKey: String, model: String, supportsJSONSchema: Bool, supportsImages: Bool) {
        self.supportsJSONSchema = supportsJSONSchema
        self.supportsImages = supportsImages
        super.init(apiKey: apiKey, model: model)
    }

    public static func start(apiKey: String = "sk-proj-test\(UUID().uuidString.prefix(12))", model: String = "gpt-4.1-mini",
                             supportsJSONSchema: Bool = true, supportsImages: Bool = true) async throws -> FakeOpenAI {
        let fake = FakeOpenAI(apiKey: apiKey, model: model, supportsJSONSchema: supportsJSONSchema, supportsImages: supportsImages)
        let router = Router()
        router.post("v1/chat/completions") { request, _ -> Response in
            let received = try await collect(request, path: "/v1/chat/completions")
            fake.record(received)
            return fake.answer(received)
        }
        router.get("v1/models") { request, _ -> Response in
            guard request.headers[.authorization] == "Bearer \(fake.apiKey)" else { return fake.unauthorized() }
            return json(["object": "list", "data": [["id": fake.model, "object": "model", "created": 1_700_000_000, "owned_by": "system"]]], status: 200)
        }
        fake.server = try await LoopbackServer.start(router)
        return fake
    }

    /// The API base as clients configure it (`OPENAI_BASE_URL`).
    public var apiBaseURL: String { baseURL + "/v1" }

    static func error(_ status: Int, _ type: String, _ message: String, param: String? = nil, code: String? = nil, retryAfter: Int? = nil) -> Response {
        json(["error": ["message": message, "type": type, "param": param as Any? ?? NSNull(), "code": code as Any? ?? NSNull()]],
             status: status, headers: retryAfter.map { ["retry-after": String($0)] } ?? [:])
    }

    /// OpenAI echoes a masked key in this message; the analyser must not pass even that on.
    func unauthorized() -> Response {
        let masked = apiKey.count > 8 ? "\(apiKey.prefix(3))****\(apiKey.suffix(4))" : "****"
        return Self.error(401, "invalid_request_error", "Incorrect API key provided: \(masked). You can find your API key at https://platform.openai.com/account/api-keys.",
                          code: "invalid_api_key")
    }

    func answer(_ request: FakeLLMRequest) -> Response {
        guard request.headers["authorization"] == "Bearer \(apiKey)" else { return unauthorized() }
        guard request.headers["content-type"]?.hasPrefix("application/json") == true else {
            return Self.error(400, "invalid_request_error", "Unsupported content type")
        }
        let body = request.json
        if let (problem, param) = problem(body) { return Self.error(400, "invalid_request_error", problem, param: param) }
        let schemaMode = (body["response_format"] as? [String: Any])?["type"] as? String

        switch nextReply() {
        case .error(let status, let type, let message, let retryAfter, let code):
            return Self.error(status, type, message, code: code, retryAfter: retryAfter)
        case .notJSON:
            return completion("Sure! This looks like a document about various things.", request)
        case .invalidAnalysis:
            return completion(String(decoding: try! JSONSerialization.data(withJSONObject: Self.invalidAnalysis), as: UTF8.self), request)
        case .analysis:
            let text = Self.messageText(body)
            if schemaMode == nil && !text.contains("<ocr_text>") {
                return completion(prose(userText: text), request)
            }
            let analysis = try! JSONSerialization.data(withJSONObject: madeUpAnalysis(userText: text))
            // Without a schema a chat model tends to wrap its JSON in a code fence.
            let content = schemaMode == "json_schema" ? String(decoding: analysis, as: UTF8.self)
                : "```json\n\(String(decoding: analysis, as: UTF8.self))\n```"
            return completion(content, request)
        }
    }

    func completion(_ content: String, _ request: FakeLLMRequest) -> Response {
        let prompt = Self.tokens(request.body)
        return FakeLLMBase.json([
            "id": "chatcmpl-\(UUID().uuidString.prefix(20))", "object": "chat.completion", "created": Int(Date().timeIntervalSince1970),
            "model": model,
            "choices": [["index": 0, "message": ["role": "assistant", "content": content, "refusal": NSNull()], "logprobs": NSNull(), "finish_reason": "stop"]],
            "usage": ["prompt_tokens": prompt, "completion_tokens": 140, "total_tokens": prompt + 140],
        ], status: 200)
    }

    func problem(_ body: [String: Any]) -> (String, String?)? {
        guard body["model"] is String else { return ("you must provide a model parameter", nil) }
        guard let messages = body["messages"] as? [[String: Any]], !messages.isEmpty else { return ("Missing required parameter: 'messages'.", "messages") }
        if body["max_tokens"] != nil && body["max_completion_tokens"] != nil {
            return ("max_tokens and max_completion_tokens cannot both be set", "max_tokens")
        }
        for (index, message) in messages.enumerated() {
            if let problem = messageProblem(message, at: "messages[\(index)]") { return problem }
        }
        if let format = body["response_format"] as? [String: Any], let problem = formatProblem(format, body: body) { return problem }
        return nil
    }

    /// A message's role and content parts as the Chat Completions API checks them.
    private func messageProblem(_ message: [String: Any], at prefix: String) -> (String, String?)? {
        guard let role = message["role"] as? String, ["system", "developer", "user", "assistant", "tool"].contains(role) else {
            return ("Invalid value for '\(prefix).role'.", "\(prefix).role")
        }
        if message["content"] is String { return nil }
        guard let parts = message["content"] as? [[String: Any]], !parts.isEmpty else {
            return ("Missing required parameter: '\(prefix).content'.", "\(prefix).content")
        }
        for (partIndex, part) in parts.enumerated() {
            if let problem = partProblem(part, at: "\(prefix).content[\(partIndex)]") { return problem }
        }
        return nil
    }

    private func partProblem(_ part: [String: Any], at: String) -> (String, String?)? {
        switch part["type"] as? String {
        case "text":
            guard part["text"] is String else { return ("Missing required parameter: '\(at).text'.", "\(at).text") }
        case "image_url":
            guard supportsImages else { return ("image input is not supported by this model", at) }
            guard let url = (part["image_url"] as? [String: Any])?["url"] as? String else { return ("Missing required parameter: '\(at).image_url.url'.", at) }
            if url.hasPrefix("data:") {
                let pieces = url.dropFirst(5).split(separator: ",", maxSplits: 1)
                guard pieces.count == 2, pieces[0].hasSuffix(";base64"),
                      Self.checkBase64(String(pieces[1]), mediaType: String(pieces[0].dropLast(7))) == nil else {
                    return ("Invalid image data URL in '\(at)'.", at)
                }
            } else if !url.hasPrefix("https://") {
                return ("Invalid image URL in '\(at)'.", at)
            }
        case "file":
            guard supportsImages else { return ("file input is not supported by this model", at) }
            guard let file = part["file"] as? [String: Any], let data = file["file_data"] as? String, file["filename"] is String,
                  data.hasPrefix("data:application/pdf;base64,"),
                  Self.checkBase64(String(data.dropFirst(28)), mediaType: "application/pdf") == nil else {
                return ("Invalid file in '\(at)': expected filename and file_data as a PDF data URL.", at)
            }
        default:
            return ("Invalid value: '\(part["type"] ?? "")'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', 'audio', and 'file'.", "\(at).type")
        }
        return nil
    }

    private func formatProblem(_ format: [String: Any], body: [String: Any]) -> (String, String?)? {
        switch format["type"] as? String {
        case "text": return nil
        case "json_object":
            guard Self.messageText(body).lowercased().contains("json") else {
                return ("'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.", "messages")
            }
            return nil
        case "json_schema":
            guard supportsJSONSchema else { return ("response_format type 'json_schema' is not supported by this server", "response_format") }
            guard let definition = format["json_schema"] as? [String: Any], let name = definition["name"] as? String,
                  name.range(of: "^[a-zA-Z0-9_-]{1,64}$", options: .regularExpression) != nil,
                  let schema = definition["schema"] as? [String: Any] else {
                return ("Missing required parameter: 'response_format.json_schema.name'.", "response_format.json_schema")
            }
            if definition["strict"] as? Bool == true, let problem = Self.strictProblem(schema, context: "") {
                return ("Invalid schema for response_format '\(name)': \(problem)", "response_format")
            }
            return nil
        default:
            return ("Invalid value for 'response_format.type'.", "response_format.type")
        }
    }

    /// Strict mode's rules: every object closed (`additionalProperties: false`) and requiring all its properties.
    public static func strictProblem(_ schema: [String: Any], context: String) -> String? {
        let types = (schema["type"] as? [String]) ?? [(schema["type"] as? String) ?? ""]
        if types.contains("object") {
            guard schema["additionalProperties"] as? Bool == false else {
                return "In context=(\(context)), 'additionalProperties' is required to be supplied and to be false."
            }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            let required = Set(schema["required"] as? [String] ?? [])
            if let missing = properties.keys.sorted().first(where: { !required.contains($0) }) {
                return "In context=(\(context)), 'required' is required to be supplied and to be an array including every key in properties. Missing '\(missing)'."
            }
            for (key, value) in properties {
                if let child = value as? [String: Any], let problem = strictProblem(child, context: context + "'properties', '\(key)'") { return problem }
            }
        }
        if types.contains("array"), let items = schema["items"] as? [String: Any] {
            return strictProblem(items, context: context + "'items'")
        }
        for (index, option) in (schema["anyOf"] as? [[String: Any]] ?? []).enumerated() {
            if let problem = strictProblem(option, context: context + "'anyOf', '\(index)'") { return problem }
        }
        return nil
    }
}
