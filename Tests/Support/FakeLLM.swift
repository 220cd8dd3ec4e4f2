import Foundation
import Hummingbird
import NIOCore

/// What a fake LLM API answers to the next call; with nothing queued it answers well.
public enum FakeLLMReply: Sendable {
    /// A valid analysis made from the request (file name and OCR text).
    case analysis
    /// Well-formed JSON that misses required fields of the analysis.
    case invalidAnalysis
    /// Prose instead of the structured answer.
    case notJSON
    /// The documented error body with this status and error type (`retry-after` header when given).
    case error(status: Int, type: String, message: String, retryAfter: Int? = nil, code: String? = nil)
}

/// One request a fake received.
public struct FakeLLMRequest: Sendable {
    public var path: String
    /// Lower-cased names.
    public var headers: [String: String]
    public var body: Data
    public var receivedAt: ContinuousClock.Instant

    public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
}

/// State and helpers both LLM doubles share: the script of replies, what arrived, the made-up analysis.
public class FakeLLMBase: @unchecked Sendable {
    public let apiKey: String
    public let model: String
    let lock = NSLock()
    private var script: [FakeLLMReply] = []
    private var received: [FakeLLMRequest] = []
    var server: LoopbackServer!

    public var baseURL: String { server.baseURL }

    init(apiKey: String, model: String) {
        self.apiKey = apiKey
        self.model = model
    }

    public func stop() async {
        await server.stop()
    }

    /// Replies for the next calls, in order.
    public func enqueue(_ replies: FakeLLMReply...) {
        enqueue(replies)
    }

    public func enqueue(_ replies: [FakeLLMReply]) {
        lock.withLock { script += replies }
    }

    public var requests: [FakeLLMRequest] { lock.withLock { received } }

    func record(_ request: FakeLLMRequest) {
        lock.withLock { received.append(request) }
    }

    func nextReply() -> FakeLLMReply {
        lock.withLock { script.isEmpty ? .analysis : script.removeFirst() }
    }

    static func collect(_ request: Request, path: String) async throws -> FakeLLMRequest {
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
        // Both APIs cap a request at 32 MB; read a little more so the double can refuse it with 413.
        let body = Data(buffer: try await request.body.collect(upTo: 40 << 20))
        return FakeLLMRequest(path: path, headers: headers, body: body, receivedAt: .now)
    }

    static func json(_ object: Any, status: Int, headers: [String: String] = [:]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        for (name, value) in headers {
            fields[.init(name)!] = value
        }
        return Response(status: HTTPResponse.Status(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// An analysis a model could have written for this document: its fields name the file and the model,
    /// so a test can tell the model's analysis from the local one.
    func madeUpAnalysis(userText: String) -> [String: Any] {
        let file = userText.components(separatedBy: "\n").first { $0.hasPrefix("File: ") }.map { String($0.dropFirst(6)) } ?? "document"
        var ocr = ""
        if let start = userText.range(of: "<ocr_text>"), let end = userText.range(of: "</ocr_text>"), start.upperBound <= end.lowerBound {
            ocr = String(userText[start.upperBound..<end.lowerBound]).lowercased()
        }
        let types = [("invoice", "invoice"), ("receipt", "receipt"), ("statement", "bank_statement"), ("payslip", "payslip"),
                     ("agreement", "contract"), ("delivery", "delivery_note"), ("insurance", "insurance"), ("dear", "letter")]
        let type = types.first { ocr.contains($0.0) }?.1 ?? "other"
        return [
            "document_type": type,
            "title": "\(model) read \(file)",
            "summary": "Analysis by \(model) of \(file): \(ocr.count) characters of OCR text.",
            "language": "en",
            "key_facts": [["label": "Analysed by", "value": model]],
            "dates": ["2024-03-15"],
            "amounts": [["value": 120.5, "currency": "EUR", "label": "Total due"]],
            "parties": ["Model Findings Ltd"],
            "action_items": ["Pay by 2024-04-15"],
            "confidence": 0.93,
        ]
    }

    /// Every text of every message, in order (string content or the text parts of a content array: the
    /// same in both APIs).
    public static func messageText(_ body: [String: Any]) -> String {
        (body["messages"] as? [[String: Any]] ?? []).map { message -> String in
            if let text = message["content"] as? String { return text }
            return (message["content"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// The plain-text answer of a call that is not an analysis: a question's answer citing the first document
    /// handed over (its code in brackets, its first line quoted), else a report's executive summary.
    func prose(userText text: String) -> String {
        guard let start = text.range(of: "<document code=\"") else {
            return "- Executive summary by \(model): the documents were read and analysed."
        }
        let code = String(text[start.upperBound...].prefix { $0 != "\"" })
        let block = text[start.upperBound...]
        let firstLine = block.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        return "Answer by \(model): according to [\(code)], \"\(firstLine)\"."
    }

    static var invalidAnalysis: [String: Any] { ["document_type": "invoice", "title": "Missing most fields"] }

    /// 4 bytes per token, as a rough count.
    static func tokens(_ data: Data) -> Int { max(1, data.count / 4) }

    /// Checks a base64 payload: decodable, and its bytes start as the media type says.
    static func checkBase64(_ data: String?, mediaType: String) -> String? {
        guard let data, let bytes = Data(base64Encoded: data) else { return "invalid base64 data" }
        let magic: [String: [UInt8]] = ["image/jpeg": [0xFF, 0xD8, 0xFF], "image/png": [0x89, 0x50, 0x4E, 0x47], "image/gif": [0x47, 0x49, 0x46],
                                        "image/webp": [0x52, 0x49, 0x46, 0x46], "application/pdf": [0x25, 0x50, 0x44, 0x46]]
        guard let expected = magic[mediaType] else { return "unsupported media type \(mediaType)" }
        guard bytes.starts(with: expected) else { return "the data is not \(mediaType)" }
        if mediaType.hasPrefix("image/"), bytes.count > 5 * 1024 * 1024 { return "image exceeds 5 MB maximum" }
        return nil
    }
}
