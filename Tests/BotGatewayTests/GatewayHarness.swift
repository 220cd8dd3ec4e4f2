import BotGateway
import CurlHTTP
import Foundation
import Hummingbird
import Logging
import OCR
import Plugins
import Storage
import TestSupport
import UseCases

/// The whole gateway in-process against the Telegram double: real webhook server, real pipeline, real OCR.
final class GatewayHarness: @unchecked Sendable {
    static let secret = "test_secret-123"
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    let telegram: FakeTelegram
    let directory: URL
    let database: AppDatabase
    let blobs: BlobStore
    let http = HTTPClient()
    private var pool: OCREnginePool?
    private var task: Task<Void, Error>?
    private(set) var port = 0
    /// The gateway's dashboard links and sessions (its key), for tests that make links the way the bot does.
    private(set) var dashboard: DashboardAccess?

    private init(telegram: FakeTelegram, directory: URL, database: AppDatabase, blobs: BlobStore) {
        self.telegram = telegram
        self.directory = directory
        self.database = database
        self.blobs = blobs
    }

    static func start(admins: Set<Int64> = [1], albumQuiet: Double = 0.6, mergeQuiet: Double = 120, mode: Gateway.Mode = .webhook,
                      analyzer: (@Sendable (HTTPClient) -> any Analyzer & ReportSummarizer)? = nil,
                      pacer: SendPacer = SendPacer(perChat: .milliseconds(10), perGroup: .milliseconds(10), global: .milliseconds(1)),
                      telegramRetries: Int = 2, delivery: ReplyDelivery = ReplyDelivery(), minimumFreeBytes: Int64 = 0,
                      api: APISettings = APISettings(), callbackSigner: CallbackSigner? = nil, publicURL: String? = nil, searchablePDF: Bool = true,
                      prepare: (URL) throws -> Void = { _ in }) async throws -> GatewayHarness {
        let telegram = try await FakeTelegram.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try prepare(directory)
        let database = try AppDatabase(path: directory.appendingPathComponent("botgateway.sqlite").path)
        let blobs = try BlobStore(dataDirectory: directory)
        let harness = GatewayHarness(telegram: telegram, directory: directory, database: database, blobs: blobs)
        let pool = try await OCREnginePool(configuration: OCRConfiguration(workers: 1), logger: quiet)
        harness.pool = pool
        let settings = GatewaySettings(token: telegram.token, apiBaseURL: telegram.baseURL, webhookSecret: secret, adminIDs: admins,
                                       host: "127.0.0.1", port: 0, dataDirectory: directory,
                                       downloadLimit: 20_000_000, replyDelivery: delivery, minimumFreeBytes: minimumFreeBytes, api: api,
                                       publicURL: publicURL)
        var client = TelegramClient(token: telegram.token, baseURL: telegram.baseURL, http: harness.http, pacer: pacer, logger: quiet)
        client.retries = telegramRetries
        let dependencies = Gateway.Dependencies(
            settings: settings, database: database, blobs: blobs, telegram: client,
            steps: StepCatalog([OCRPlugin(pool: pool, searchablePDFs: searchablePDF ? blobs : nil), AnalyzePlugin(analyzer: analyzer?(harness.http) ?? LocalAnalyzer())]),
            workers: 2, albumQuiet: albumQuiet, logger: quiet, summarizer: analyzer?(harness.http), callbackSigner: callbackSigner,
            http: harness.http, searchablePDFs: SearchablePDFs(blobs: blobs, engines: { pool }),
            pageReader: { path in try await OCRPlugin.read(path, engines: pool, searchablePDFs: searchablePDF ? blobs : nil, logger: quiet) },
            mergeQuiet: mergeQuiet)
        harness.dashboard = Gateway.dashboardAccess(dependencies)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Gateway.buildApplication(dependencies, mode: mode) { port in
            continuation.yield(port)
            continuation.finish()
        }
        harness.task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        harness.port = await iterator.next() ?? 0
        return harness
    }

    func stop() async {
        task?.cancel()
        _ = try? await task?.value
        await pool?.shutdown()
        http.shutdown()
        await telegram.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// POSTs an update to the webhook; returns the HTTP status.
    @discardableResult
    func post(_ update: [String: Any], secret: String? = GatewayHarness.secret) async throws -> Int {
        try await post(raw: try JSONSerialization.data(withJSONObject: update), secret: secret)
    }

    func post(raw: Data, secret: String? = GatewayHarness.secret) async throws -> Int {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        if let secret { headers.append(("X-Telegram-Bot-Api-Secret-Token", secret)) }
        let response = try await http.send(HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(port)/telegram/webhook", headers: headers, body: .data(raw)))
        return response.status
    }

    func get(_ path: String) async throws -> Int {
        try await http.send(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")).status
    }

    func body(_ path: String) async throws -> String {
        String(decoding: try await http.send(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")).body, as: UTF8.self)
    }

    static func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent("fixtures").appendingPathComponent(name))
    }
}

enum Updates {
    static func user(_ id: Int64) -> [String: Any] {
        ["id": id, "is_bot": false, "first_name": "User\(id)", "language_code": "en"]
    }

    static func photo(update: Int64, user: Int64, chat: Int64? = nil, message: Int64, file: String, size: Int = 50_000, album: String? = nil) -> [String: Any] {
        var body: [String: Any] = [
            "message_id": message, "from": Self.user(user), "chat": ["id": chat ?? user, "type": "private"], "date": 1_700_000_000,
            "photo": [
                ["file_id": file + "-thumb", "file_unique_id": "t" + file, "width": 90, "height": 120, "file_size": 1200],
                ["file_id": file, "file_unique_id": "u" + file, "width": 1000, "height": 1400, "file_size": size],
            ],
        ]
        if let album { body["media_group_id"] = album }
        return ["update_id": update, "message": body]
    }

    static func document(update: Int64, user: Int64, message: Int64, file: String, name: String, mime: String, size: Int) -> [String: Any] {
        ["update_id": update, "message": [
            "message_id": message, "from": Self.user(user), "chat": ["id": user, "type": "private"], "date": 1_700_000_000,
            "document": ["file_id": file, "file_unique_id": "u" + file, "file_name": name, "mime_type": mime, "file_size": size],
        ] as [String: Any]]
    }

    static func document(update: Int64, user: Int64, message: Int64, file: String, name: String) -> [String: Any] {
        document(update: update, user: user, message: message, file: file, name: name, mime: "image/png", size: 50_000)
    }

    static func text(update: Int64, user: Int64, message: Int64, _ text: String) -> [String: Any] {
        ["update_id": update, "message": [
            "message_id": message, "from": Self.user(user), "chat": ["id": user, "type": "private"], "date": 1_700_000_000, "text": text,
        ] as [String: Any]]
    }
}
