import Foundation
import Hummingbird

/// An Anthropic Messages API double: `POST /v1/messages` checked as the API does (`x-api-key`,
/// `anthropic-version`, `model`, `max_tokens`, `messages`, content blocks, tools and `tool_choice`),
/// answering the documented shapes: a message with `tool_use` or `text` content and `usage`, or
/// `{"type":"error","error":{"type","message"},"request_id"}` with the matching status.
public final class FakeAnthropic: FakeLLMBase, @unchecked Sendable {
    public static func start(apiKey: String = "sk-ant-test-\(UUID().uuidString.prefix(12))", model: String = "claude-sonnet-4-5") async throws -> FakeAnthropic {
        let fake = FakeAnthropic(apiKey: apiKey, model: model)
        let router = Router()
        router.post("v1/messages") { request, _ -> Response in
            let received = try await collect(request, path: "/v1/messages")
            fake.record(received)
            return fake.answer(received)
        }
        router.get("v1/models/:model") { request, context -> Response in
            guard try await collect(request, path: "/v1/models").headers["x-api-key"] == fake.apiKey else {
                return error(401, "authentication_error", "invalid x-api-key")
            }
            let id = context.parameters.get("model") ?? ""
            guard id == fake.model else { return error(404, "not_found_error", "model: \(id)") }
            return json(["type": "model", "id": id, "display_name": "Fake \(id)", "created_at": "2025-09-29T00:00:00Z"], status: 200)
        }
        fake.server = try await LoopbackServer.start(router)
        return fake
    }

    static func error(_ status: Int, _ type: String, _ message: String, retryAfter: Int? = nil, code: String? = nil) -> Response {
        var error: [String: Any] = ["type": type, "message": message]
        if let code { error["details"] = ["error_code": code] }
        return json(["type": "error", "error": error, "request_id": "req_\(UUID().uuidString.prefix(20))"],
             status: status, headers: retryAfter.map { ["retry-after": String($0)] } ?? [:])
    }

    func answer(_ request: FakeLLMRequest) -> Response {
        guard request.headers["x-api-key"] == apiKey else { return Self.error(401, "authentication_error", "invalid x-api-key") }
        guard request.headers["anthropic-version"] != nil else { return Self.error(400, "invalid_request_error", "anthropic-version: header is required") }
        guard request.headers["content-type"]?.hasPrefix("application/json") == true else {
            return Self.error(400, "invalid_request_error", "content-type must be application/json")
        }
        guard request.body.count <= 32 * 1024 * 1024 else { return Self.error(413, "request_too_large", "Request exceeds the maximum allowed number of bytes.") }
        let body = request.json
        if let problem = Self.problem(body) { return Self.error(400, "invalid_request_error", problem) }

        switch nextReply() {
        case .error(let status, let type, let message, let retryAfter, let code):
            return Self.error(status, type, message, retryAfter: retryAfter, code: code)
        case .notJSON:
            return message([["type": "text", "text": "I think this is some kind of document."]], stop: "end_turn", request)
        case .invalidAnalysis:
            return message([toolUse(Self.invalidAnalysis, body)], stop: "tool_use", request)
        case .analysis:
            let text = Self.messageText(body)
            if body["tool_choice"] != nil {
                return message([toolUse(madeUpAnalysis(userText: text), body)], stop: "tool_use", request)
            }
            return message([["type": "text", "text": prose(userText: text)]], stop: "end_turn", request)
        }
    }

    func toolUse(_ input: [String: Any], _ body: [String: Any]) -> [String: Any] {
        let name = (body["tool_choice"] as? [String: Any])?["name"] as? String ?? "tool"
        return ["type": "tool_use", "id": "toolu_\(UUID().uuidString.prefix(16))", "name": name, "input": input]
    }

    func message(_ content: [[String: Any]], stop: String, _ request: FakeLLMRequest) -> Response {
        FakeLLMBase.json([
            "id": "msg_\(UUID().uuidString.prefix(20))", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": NSNull(),
            "usage": ["input_tokens": Self.tokens(request.body), "output_tokens": 150, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0],
        ], status: 200)
    }

    /// The request checks the API makes, as `invalid_request_error` messages.
    static func problem(_ body: [String: Any]) -> String? {
        guard body["model"] is String else { return "model: Field required" }
        guard let maxTokens = body["max_tokens"] as? Int else { return "max_tokens: Field required" }
        guard maxTokens >= 1 else { return "max_tokens: must be greater than or equal to 1" }
        guard let messages = body["messages"] as? [[String: Any]], !messages.isEmpty else { return "messages: Field required" }
        guard messages.first?["role"] as? String == "user" else { return "messages: first message must use the \"user\" role" }
        if let system = body["system"], !(system is String || system is [Any]) { return "system: Input should be a valid string" }
        for (index, message) in messages.enumerated() {
            guard let role = message["role"] as? String, ["user", "assistant"].contains(role) else {
                return "messages.\(index).role: Input should be 'user' or 'assistant'"
            }
            if message["content"] is String { continue }
            guard let blocks = message["content"] as? [[String: Any]], !blocks.isEmpty else { return "messages.\(index).content: Field required" }
            for (blockIndex, block) in blocks.enumerated() {
                let at = "messages.\(index).content.\(blockIndex)"
                switch block["type"] as? String {
                case "text":
                    guard block["text"] is String else { return "\(at).text: Field required" }
                case "image", "document":
                    guard let source = block["source"] as? [String: Any], source["type"] as? String == "base64",
                          let mediaType = source["media_type"] as? String else { return "\(at).source: Field required" }
                    if block["type"] as? String == "document", mediaType != "application/pdf" { return "\(at).source.media_type: Input should be 'application/pdf'" }
                    if let problem = checkBase64(source["data"] as? String, mediaType: mediaType) { return "\(at).source.base64: \(problem)" }
                default:
                    return "\(at).type: Input tag '\(block["type"] ?? "")' does not match any of the expected tags"
                }
            }
        }
        let tools = body["tools"] as? [[String: Any]] ?? []
        for (index, tool) in tools.enumerated() {
            guard let name = tool["name"] as? String, name.range(of: "^[a-zA-Z0-9_-]{1,64}$", options: .regularExpression) != nil else {
                return "tools.\(index).name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"
            }
            guard let schema = tool["input_schema"] as? [String: Any], schema["type"] as? String == "object" else {
                return "tools.\(index).input_schema: Input schema must have type 'object'"
            }
        }
        if let choice = body["tool_choice"] as? [String: Any] {
            switch choice["type"] as? String {
            case "auto", "any", "none": break
            case "tool":
                guard let name = choice["name"] as? String, tools.contains(where: { $0["name"] as? String == name }) else {
                    return "tool_choice: tool not found in tools"
                }
            default: return "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'"
            }
        }
        return nil
    }
}
