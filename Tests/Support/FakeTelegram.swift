import Foundation
import Hummingbird
import NIOCore

/// A Telegram Bot API double: a real HTTP server speaking the documented wire format
/// (`POST /bot<token>/<method>` with JSON or multipart, `{"ok":true,"result":…}`, errors as
/// `{"ok":false,"error_code":…,"description":…,"parameters":{"retry_after":…}}`, files under
/// `/file/bot<token>/<file_path>`). It records what the bot sent and can be told to fail.
public final class FakeTelegram: @unchecked Sendable {
    public struct Sent: Sendable, Equatable {
        public var method: String
        public var chatID: Int64
        public var text: String
        public var replyTo: Int64?
        /// sendDocument's file: its name and bytes.
        public var fileName: String?
        public var file: Data?
        /// When the double took it (for latency figures).
        public var at: ContinuousClock.Instant = .now
    }

    public let token: String
    private let lock = NSLock()
    private var sent: [Sent] = []
    private var calls: [String] = []
    private var files: [String: Data] = [:]
    private var failures: [String: [(code: Int, retryAfter: Int?, description: String?)]] = [:]
    private var localPaths: [String: String] = [:]
    private var downloadFailures: [String: Int] = [:]
    private var slowFiles: [String: Int] = [:]
    private var unavailable = false
    private var updates: [[String: Any]] = []
    private var nextMessageID: Int64 = 1000
    private(set) var server: LoopbackServer!

    public var baseURL: String { server.baseURL }

    private init(token: String) {
        self.token = token
    }

    public static func start(token: String = "123456:TEST-token_abc") async throws -> FakeTelegram {
        let fake = FakeTelegram(token: token)
        fake.server = try await LoopbackServer.start(fake.router())
        return fake
    }

    public func stop() async {
        await server.stop()
    }

    // MARK: Test controls

    /// A file the bot can fetch with getFile + download.
    public func addFile(id: String, data: Data) {
        lock.withLock { files[id] = data }
    }

    /// The next `times` calls of `method` fail with `code` (429 with `retry_after`, 500, …) and Telegram's
    /// description for it, or `description`.
    public func fail(_ method: String, times: Int = 1, code: Int, retryAfter: Int? = nil, description: String? = nil) {
        lock.withLock { failures[method, default: []] += Array(repeating: (code, retryAfter, description), count: times) }
    }

    /// The next `times` downloads of this file fail with a 500 (one user's file, not everyone's).
    public func failDownload(fileID: String, times: Int) {
        lock.withLock { downloadFailures[fileID, default: 0] += times }
    }

    /// This file is served at about `bytesPerSecond` (a slow or stalling download).
    public func slowDownload(fileID: String, bytesPerSecond: Int) {
        lock.withLock { slowFiles[fileID] = bytesPerSecond }
    }

    /// getFile answers with this absolute `file_path`, as a local Bot API server does.
    public func setLocalPath(fileID: String, path: String) {
        lock.withLock { localPaths[fileID] = path }
    }

    /// An outage: while true every call and download gets a 502 from "the proxy in front of Telegram".
    public func setUnavailable(_ value: Bool) {
        lock.withLock { unavailable = value }
    }

    /// Queues an update for getUpdates.
    public func queueUpdate(_ update: [String: Any]) {
        lock.withLock { updates.append(update) }
    }

    public var sentMessages: [Sent] { lock.withLock { sent } }
    public var methodCalls: [String] { lock.withLock { calls } }

    public func messages(to chatID: Int64) -> [Sent] {
        sentMessages.filter { $0.chatID == chatID }
    }

    /// Waits until `predicate` holds for what was sent, or the timeout passes.
    public func waitFor(timeout: Duration = .seconds(30), _ predicate: ([Sent]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if predicate(sentMessages) { return true }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return predicate(sentMessages)
    }

    // MARK: The API

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post(":bot/:method") { request, context -> Response in
            let bot = context.parameters.get("bot") ?? ""
            let method = context.parameters.get("method") ?? ""
            let body = Data(buffer: try await request.body.collect(upTo: 60 << 20))
            // getUpdates is a long poll: with nothing queued, hold the request a little as Telegram does.
            if method == "getUpdates", self.lock.withLock({ self.updates.isEmpty }) {
                try await Task.sleep(for: .milliseconds(200))
            }
            return self.handle(bot: bot, method: method, contentType: request.headers[.contentType] ?? "", body: body)
        }
        router.get("file/:bot/**") { request, context -> Response in
            if self.lock.withLock({ self.unavailable }) { return Self.badGateway() }
            guard context.parameters.get("bot") == "bot\(self.token)" else { return Self.error(401, "Unauthorized") }
            let path = context.parameters.getCatchAll().joined(separator: "/")
            let id = path.split(separator: "/").last.map(String.init) ?? ""
            let (data, fail, speed): (Data?, Bool, Int?) = self.lock.withLock {
                let fail = (self.downloadFailures[id] ?? 0) > 0
                if fail { self.downloadFailures[id]! -= 1 }
                return (self.files[id], fail, self.slowFiles[id])
            }
            if fail { return Self.error(500, "Internal Server Error") }
            guard let data else { return Self.error(404, "Not Found") }
            guard let speed else { return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: data))) }
            // Trickled in chunks of a tenth of a second's worth.
            let chunk = max(1, speed / 10)
            return Response(status: .ok, headers: [.contentLength: String(data.count)], body: ResponseBody { writer in
                var offset = 0
                while offset < data.count {
                    let end = min(data.count, offset + chunk)
                    try await writer.write(ByteBuffer(bytes: data[offset..<end]))
                    offset = end
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await writer.finish(nil)
            })
        }
        return router
    }

    private func handle(bot: String, method: String, contentType: String, body: Data) -> Response {
        if lock.withLock({ unavailable }) { return Self.badGateway() }
        guard bot == "bot\(token)" else { return Self.error(401, "Unauthorized") }
        let failure: (code: Int, retryAfter: Int?, description: String?)? = lock.withLock {
            calls.append(method)
            guard var queue = failures[method], !queue.isEmpty else { return nil }
            let first = queue.removeFirst()
            failures[method] = queue
            return first
        }
        if let failure {
            let standard = failure.code == 429 ? "Too Many Requests: retry after \(failure.retryAfter ?? 1)" : "Internal Server Error"
            return Self.error(failure.code, failure.description ?? standard, retryAfter: failure.retryAfter)
        }
        let multipart = contentType.hasPrefix("multipart/form-data")
        let parameters = multipart ? Self.multipartFields(body, contentType: contentType)
            : ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:])
        func int(_ key: String) -> Int64? {
            if let number = parameters[key] as? NSNumber { return number.int64Value }
            return (parameters[key] as? String).flatMap { Int64($0) }
        }
        switch method {
        case "getMe":
            return Self.ok(["id": 1, "is_bot": true, "first_name": "Gateway", "username": "gateway_test_bot"])
        case "getFile":
            guard let id = parameters["file_id"] as? String else { return Self.error(400, "Bad Request: invalid file_id") }
            if let path = lock.withLock({ localPaths[id] }) {
                return Self.ok(["file_id": id, "file_unique_id": "u-\(id)", "file_path": path])
            }
            guard let data = lock.withLock({ files[id] }) else { return Self.error(400, "Bad Request: invalid file_id") }
            return Self.ok(["file_id": id, "file_unique_id": "u-\(id)", "file_size": data.count, "file_path": "documents/\(id)"])
        case "sendMessage", "sendDocument", "editMessageText":
            return send(method: method, parameters: parameters, chat: int("chat_id"),
                        file: multipart ? Self.multipartFile(body, contentType: contentType) : nil)
        case "sendChatAction", "setWebhook", "deleteWebhook", "setMyCommands":
            return Self.ok(true)
        case "getWebhookInfo":
            return Self.ok(["url": "", "has_custom_certificate": false, "pending_update_count": 0])
        case "getUpdates":
            let offset = int("offset") ?? 0
            let page: [[String: Any]] = lock.withLock {
                updates.removeAll { (($0["update_id"] as? NSNumber)?.int64Value ?? 0) < offset }
                return updates
            }
            return Self.ok(page)
        default:
            return Self.error(404, "Not Found: method not found")
        }
    }

    /// A message sent, captioned or edited: Telegram's checks, then recorded for the test to read.
    private func send(method: String, parameters: [String: Any], chat: Int64?, file: (name: String, data: Data)?) -> Response {
        guard let chat else { return Self.error(400, "Bad Request: chat_id is empty") }
        let text = (parameters["text"] as? String) ?? (parameters["caption"] as? String) ?? ""
        // Telegram's own rules: HTML must parse, and the text after parsing is measured in UTF-16 units.
        if let refusal = TelegramText.refusal(text, html: (parameters["parse_mode"] as? String) == "HTML",
                                              isCaption: method == "sendDocument") {
            return Self.error(400, refusal)
        }
        var replyTo: Int64?
        if let reply = parameters["reply_parameters"] as? [String: Any] { replyTo = (reply["message_id"] as? NSNumber)?.int64Value }
        if let reply = parameters["reply_parameters"] as? String,
           let object = try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any] {
            replyTo = (object["message_id"] as? NSNumber)?.int64Value
        }
        let id: Int64 = lock.withLock {
            sent.append(Sent(method: method, chatID: chat, text: text, replyTo: replyTo,
                             fileName: file?.name, file: file?.data))
            nextMessageID += 1
            return nextMessageID
        }
        return Self.ok(["message_id": id, "date": Int(Date().timeIntervalSince1970), "chat": ["id": chat, "type": "private"], "text": text])
    }

    static func badGateway() -> Response {
        Response(status: .badGateway, headers: [.contentType: "text/html"], body: .init(byteBuffer: ByteBuffer(string: "<html>502 Bad Gateway</html>")))
    }

    static func ok(_ result: Any) -> Response {
        json(["ok": true, "result": result], status: .ok)
    }

    static func error(_ code: Int, _ description: String, retryAfter: Int? = nil) -> Response {
        var object: [String: Any] = ["ok": false, "error_code": code, "description": description]
        if let retryAfter { object["parameters"] = ["retry_after": retryAfter] }
        return json(object, status: HTTPResponse.Status(code: code))
    }

    static func json(_ object: Any, status: HTTPResponse.Status) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The file part of a multipart body, byte for byte: its file name and content.
    static func multipartFile(_ body: Data, contentType: String) -> (name: String, data: Data)? {
        guard let boundary = contentType.components(separatedBy: "boundary=").last?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")),
              let marker = "filename=\"".data(using: .utf8), let named = body.range(of: marker),
              let nameEnd = body[named.upperBound...].firstIndex(of: UInt8(ascii: "\"")),
              let headerEnd = body.range(of: Data("\r\n\r\n".utf8), in: nameEnd..<body.endIndex),
              let partEnd = body.range(of: Data("\r\n--\(boundary)".utf8), in: headerEnd.upperBound..<body.endIndex) else { return nil }
        return (String(decoding: body[named.upperBound..<nameEnd], as: UTF8.self), Data(body[headerEnd.upperBound..<partEnd.lowerBound]))
    }

    /// Just enough multipart parsing for the text fields of sendDocument.
    static func multipartFields(_ body: Data, contentType: String) -> [String: Any] {
        guard let boundary = contentType.components(separatedBy: "boundary=").last else { return [:] }
        let text = String(decoding: body, as: UTF8.self)
        var fields: [String: Any] = [:]
        for part in text.components(separatedBy: "--" + boundary) {
            guard let nameRange = part.range(of: "name=\""), let end = part[nameRange.upperBound...].firstIndex(of: "\""),
                  let valueStart = part.range(of: "\r\n\r\n") else { continue }
            let name = String(part[nameRange.upperBound..<end])
            guard !part[..<valueStart.lowerBound].contains("filename=") else {
                fields[name] = "(file)"
                continue
            }
            fields[name] = String(part[valueStart.upperBound...]).trimmingCharacters(in: .newlines)
        }
        return fields
    }
}
