import CurlHTTP
import Foundation
import Logging
import Plugins

/// Why a Bot API call failed. The token never appears: URLs are redacted by the HTTP client and
/// Telegram's descriptions do not echo it.
public enum TelegramError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Telegram answered `ok: false` (400 bad request, 403 blocked by the user, …).
    case api(code: Int, description: String)
    /// Still rate limited after the retries; try again after this many seconds.
    case rateLimited(retryAfter: Double)
    case transport(HTTPClientError)
    case malformedResponse(String)

    public var description: String {
        switch self {
        case .api(let code, let description): "Telegram refused the call (\(code)): \(description)"
        case .rateLimited(let seconds): "Telegram rate limit, retry after \(Int(seconds)) s"
        case .transport(let error): "Telegram unreachable: \(error)"
        case .malformedResponse(let what): "unexpected answer from Telegram: \(what)"
        }
    }

    /// Telegram refused the text itself: HTML it cannot parse, or too long after parsing. Sending the same
    /// content as plain text (or as a document) goes through.
    public var isUnsendableText: Bool {
        guard case .api(400, let description) = self else { return false }
        let text = description.lowercased()
        return text.contains("can't parse entities") || text.contains("too long")
    }

    /// getFile's answer for files over the Bot API's 20 MB download limit.
    public var isFileTooBig: Bool {
        guard case .api(400, let description) = self else { return false }
        return description.lowercased().contains("file is too big")
    }

    public var isTransient: Bool {
        switch self {
        case .api(let code, _): code >= 500
        case .rateLimited: true
        case .transport(let error): error.isTransient
        case .malformedResponse: true
        }
    }
}

/// The Bot API methods the gateway uses, over the project's libcurl client. 429 (`retry_after`) and
/// 5xx are retried here, up to three attempts; sends are paced so no chat is flooded.
public struct TelegramClient: Sendable, Redacted {
    public let baseURL: String
    private let token: String
    private let http: HTTPClient
    private let pacer: SendPacer
    private let logger: Logger
    /// Retries after the first attempt, for 429 and 5xx.
    public var retries = 2
    /// Backoff for 5xx and transport errors (0.5 s doubling, as the official SDKs do).
    private let backoff = RetryPolicy()
    /// A `retry_after` longer than this is not waited out inside the call; the caller reschedules.
    public var maxInlineWait: Double = 30

    public init(token: String, baseURL: String = "https://api.telegram.org", http: HTTPClient, pacer: SendPacer = SendPacer(),
                logger: Logger = Logger(label: "telegram")) {
        self.token = token
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
        self.pacer = pacer
        self.logger = logger
    }

    public var redactedDescription: String { "TelegramClient(\(URL(string: baseURL)?.host ?? "?"), token redacted)" }

    /// A local Bot API server (anything but api.telegram.org) has no 20 MB download limit.
    public var isLocalServer: Bool { !GatewaySettings.isTelegram(baseURL) }

    // MARK: Methods

    public struct Me: Decodable, Sendable {
        public var id: Int64
        public var username: String?
    }

    public func getMe() async throws -> Me {
        try await call("getMe", [:])
    }

    public func getUpdates(offset: Int64?, timeout: Int, allowedUpdates: [String] = ["message", "edited_message"]) async throws -> [RawUpdate] {
        var parameters: [String: Any] = ["timeout": timeout, "allowed_updates": allowedUpdates]
        if let offset { parameters["offset"] = offset }
        return try await call("getUpdates", parameters, timeout: .seconds(timeout + 15))
    }

    public func setWebhook(url: String, secretToken: String, dropPendingUpdates: Bool = false) async throws {
        let _: Bool = try await call("setWebhook", [
            "url": url, "secret_token": secretToken, "allowed_updates": ["message", "edited_message"],
            "drop_pending_updates": dropPendingUpdates,
        ])
    }

    public func deleteWebhook(dropPendingUpdates: Bool = false) async throws {
        let _: Bool = try await call("deleteWebhook", ["drop_pending_updates": dropPendingUpdates])
    }

    public func getWebhookInfo() async throws -> TelegramWebhookInfo {
        try await call("getWebhookInfo", [:])
    }

    public func getFile(_ fileID: String) async throws -> TelegramFile {
        try await call("getFile", ["file_id": fileID])
    }

    /// Downloads a file found with `getFile` to `destination`, refusing more than `maxBytes`.
    public func download(_ file: TelegramFile, to destination: String, maxBytes: Int64) async throws {
        guard let path = file.filePath else { throw TelegramError.malformedResponse("getFile gave no file_path") }
        if path.hasPrefix("/") {
            // A local Bot API server hands out paths on its own disk; Telegram's own API never does, so an
            // absolute path from it is not followed (it would copy any file of this machine).
            guard isLocalServer else { throw TelegramError.malformedResponse("getFile gave a local path, which only a local Bot API server may") }
            try Self.copyLocalFile(path, to: destination, maxBytes: maxBytes)
            return
        }
        let response: HTTPClientResponse
        do {
            // A stalled download gives up after 30 s under 1 KB/s instead of holding its chat for the whole timeout.
            response = try await http.send(HTTPClientRequest(url: "\(baseURL)/file/bot\(token)/\(path)", timeout: .seconds(600),
                                                       maxResponseBytes: maxBytes, downloadPath: destination,
                                                       minimumSpeed: .init(bytesPerSecond: 1024, seconds: 30)))
        } catch let error as HTTPClientError {
            throw TelegramError.transport(error)
        }
        guard response.status == 200 else { throw TelegramError.api(code: response.status, description: "file download failed") }
    }

    /// Copies a file a local Bot API server named: a regular file only (not a device, FIFO or folder), at most
    /// `maxBytes`, opened once so what is checked is what is copied.
    static func copyLocalFile(_ path: String, to destination: String, maxBytes: Int64) throws {
        guard let source = FileHandle(forReadingAtPath: path) else { throw TelegramError.malformedResponse("the local file named by getFile is not readable") }
        defer { try? source.close() }
        var info = stat()
        guard fstat(source.fileDescriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw TelegramError.malformedResponse("the local file named by getFile is not a regular file")
        }
        guard Int64(info.st_size) <= maxBytes else { throw TelegramError.transport(.responseTooLarge(host: "local Bot API server", limit: maxBytes)) }
        try? FileManager.default.removeItem(atPath: destination)
        guard FileManager.default.createFile(atPath: destination, contents: nil), let output = FileHandle(forWritingAtPath: destination) else {
            throw TelegramError.malformedResponse("cannot write the downloaded file")
        }
        defer { try? output.close() }
        var copied: Int64 = 0
        while let chunk = try source.read(upToCount: 1 << 20), !chunk.isEmpty {
            copied += Int64(chunk.count)
            guard copied <= maxBytes else { throw TelegramError.transport(.responseTooLarge(host: "local Bot API server", limit: maxBytes)) }
            try output.write(contentsOf: chunk)
        }
    }

    @discardableResult
    public func sendMessage(chatID: Int64, text: String, html: Bool = true, replyTo messageID: Int64? = nil) async throws -> SentMessage {
        var parameters: [String: Any] = ["chat_id": chatID, "text": text, "link_preview_options": ["is_disabled": true]]
        if html { parameters["parse_mode"] = "HTML" }
        if let messageID { parameters["reply_parameters"] = ["message_id": messageID, "allow_sending_without_reply": true] }
        await pacer.wait(chatID: chatID)
        return try await call("sendMessage", parameters)
    }

    public func editMessageText(chatID: Int64, messageID: Int64, text: String) async throws {
        await pacer.wait(chatID: chatID)
        let _: RawJSON = try await call("editMessageText", ["chat_id": chatID, "message_id": messageID, "text": text, "parse_mode": "HTML"])
    }

    @discardableResult
    public func sendDocument(chatID: Int64, path: String, fileName: String, caption: String? = nil, html: Bool = true,
                             replyTo messageID: Int64? = nil) async throws -> SentMessage {
        var parts: [MultipartPart] = [.field("chat_id", String(chatID))]
        if let caption {
            parts.append(.field("caption", caption))
            if html { parts.append(.field("parse_mode", "HTML")) }
        }
        if let messageID {
            parts.append(.field("reply_parameters", #"{"message_id":\#(messageID),"allow_sending_without_reply":true}"#))
        }
        parts.append(MultipartPart(name: "document", filename: fileName, contentType: "text/markdown", content: .file(path)))
        await pacer.wait(chatID: chatID)
        return try await send("sendDocument", HTTPClientRequest(method: "POST", url: url("sendDocument"), body: .multipart(parts), timeout: .seconds(120)))
    }

    public func sendChatAction(chatID: Int64, action: String = "typing") async throws {
        let _: Bool = try await call("sendChatAction", ["chat_id": chatID, "action": action])
    }

    public func setMyCommands(_ commands: [(command: String, description: String)]) async throws {
        let _: Bool = try await call("setMyCommands", ["commands": commands.map { ["command": $0.command, "description": $0.description] }])
    }

    public struct SentMessage: Decodable, Sendable {
        public var messageID: Int64

        enum CodingKeys: String, CodingKey {
            case messageID = "message_id"
        }
    }

    /// An update as received, kept raw for the durable queue.
    public struct RawUpdate: Decodable, Sendable {
        public var updateID: Int64
        /// The chat whose order the update keeps (nil for kinds that name none).
        public var chatID: Int64?
        public var json: Data

        public init(from decoder: Decoder) throws {
            let routing = try UpdateRouting(from: decoder)
            updateID = routing.updateID
            chatID = routing.chatID
            json = try JSONEncoder().encode(try RawJSON(from: decoder))
        }
    }

    // MARK: Transport

    private func url(_ method: String) -> String { "\(baseURL)/bot\(token)/\(method)" }

    private func call<Result: Decodable>(_ method: String, _ parameters: [String: Any], timeout: Duration = .seconds(30)) async throws -> Result {
        let body: Data
        do {
            body = try JSONSerialization.data(withJSONObject: parameters)
        } catch {
            throw TelegramError.malformedResponse("parameters of \(method) are not JSON")
        }
        return try await send(method, .json(url: url(method), body: body, timeout: timeout))
    }

    private func send<Result: Decodable>(_ method: String, _ request: HTTPClientRequest) async throws -> Result {
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPClientResponse
            do {
                response = try await http.send(request)
            } catch let error as HTTPClientError {
                if error.isTransient, attempt <= retries {
                    try await backoff.pause(afterAttempt: attempt)
                    continue
                }
                throw TelegramError.transport(error)
            }
            let envelope: TelegramEnvelope<Result>
            do {
                envelope = try JSONDecoder().decode(TelegramEnvelope<Result>.self, from: response.body)
            } catch {
                if response.status >= 500, attempt <= retries {
                    try await backoff.pause(afterAttempt: attempt)
                    continue
                }
                throw TelegramError.malformedResponse("\(method) answered HTTP \(response.status) without a Bot API body")
            }
            if envelope.ok, let result = envelope.result { return result }
            let code = envelope.errorCode ?? response.status
            if code == 429 {
                let wait = envelope.parameters?.retryAfter ?? response.retryAfter ?? 1
                guard attempt <= retries, wait <= maxInlineWait else { throw TelegramError.rateLimited(retryAfter: wait) }
                logger.notice("rate limited by Telegram", metadata: ["method": "\(method)", "retry_after": "\(wait)"])
                try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                continue
            }
            if code >= 500, attempt <= retries {
                try await backoff.pause(afterAttempt: attempt)
                continue
            }
            throw TelegramError.api(code: code, description: envelope.description ?? "no description")
        }
    }
}

/// Keeps under Telegram's limits: about one message a second per chat (one per 3 s in groups, which
/// allow 20 a minute) and 30 a second overall. Waits are per chat, so one busy chat never slows another.
public actor SendPacer {
    private var nextPerChat: [Int64: ContinuousClock.Instant] = [:]
    private var nextGlobal = ContinuousClock.now
    private let perChat: Duration
    private let perGroup: Duration
    private let global: Duration

    public init(perChat: Duration = .seconds(1), perGroup: Duration = .seconds(3), global: Duration = .milliseconds(34)) {
        self.perChat = perChat
        self.perGroup = perGroup
        self.global = global
    }

    public func wait(chatID: Int64) async {
        let now = ContinuousClock.now
        let slot = max(now, nextPerChat[chatID] ?? now, nextGlobal)
        // Negative chat ids are groups and channels.
        nextPerChat[chatID] = slot + (chatID < 0 ? perGroup : perChat)
        nextGlobal = slot + global
        if slot > now { try? await Task.sleep(until: slot, clock: .continuous) }
    }
}

/// Any JSON value, decoded and re-encoded as is.
struct RawJSON: Codable, Sendable {
    let value: JSONValue

    init(from decoder: Decoder) throws {
        value = try JSONValue(from: decoder)
    }

    func encode(to encoder: Encoder) throws {
        try value.encode(to: encoder)
    }
}

indirect enum JSONValue: Codable, Sendable {
    case null, bool(Bool), number(Double), integer(Int64), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
