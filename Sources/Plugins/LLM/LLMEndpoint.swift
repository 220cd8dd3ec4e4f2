import CurlHTTP
import Foundation

/// An API key. It prints as `<redacted>` wherever it ends up (logs, errors, `dump`), so the only way to
/// read it is `value`, used in one place per analyser: the request header.
public struct APIKey: Sendable, Redacted {
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var redactedDescription: String { "<redacted>" }
}

/// Where an LLM analyser sends its calls and with which model.
public struct LLMEndpoint: Sendable {
    /// Without a trailing slash: `https://api.anthropic.com`, `https://api.openai.com/v1`.
    public var baseURL: String
    /// Local servers (Ollama, llama.cpp) may need none.
    public var apiKey: APIKey?
    public var model: String
    /// One whole call; a page-heavy document with a large model can take a minute.
    public var timeout: Duration
    public var maxOutputTokens: Int

    public init(baseURL: String, apiKey: APIKey?, model: String, timeout: Duration = .seconds(180), maxOutputTokens: Int = 4096) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.apiKey = apiKey
        self.model = model
        self.timeout = timeout
        self.maxOutputTokens = maxOutputTokens
    }

    /// Scheme, host and port only, for logs.
    public var host: String {
        guard let components = URLComponents(string: baseURL), let host = components.host else { return "(invalid URL)" }
        return host + (components.port.map { ":\($0)" } ?? "")
    }
}

/// What both LLM analysers share: the system prompt, prices, and how the document itself is sent.
public struct LLMOptions: Sendable {
    public var systemPrompt: String
    public var prices: PriceTable
    /// Send page images / the PDF along with the OCR text. Off, the model sees the OCR text only.
    public var sendDocument: Bool
    public var pageImages: PageImageSettings
    /// OCR text beyond this many characters is cut (the document itself still goes along).
    public var maxTextCharacters: Int

    public init(systemPrompt: String = AnalysisPrompt.system, prices: PriceTable = .standard, sendDocument: Bool = true,
                pageImages: PageImageSettings = PageImageSettings(), maxTextCharacters: Int = 120_000) {
        self.systemPrompt = systemPrompt
        self.prices = prices
        self.sendDocument = sendDocument
        self.pageImages = pageImages
        self.maxTextCharacters = maxTextCharacters
    }
}

public struct PageImageSettings: Sendable {
    public var maxEdge: Int = 1568
    public var maxPages: Int = 20
    /// PDFs larger than this go as OCR text only: base64 grows them by a third, and both APIs cap a
    /// request at 32 MB.
    public var maxPDFBytes: Int = 22_000_000

    public init() {}
}
