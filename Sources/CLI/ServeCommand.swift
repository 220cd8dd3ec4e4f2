import ArgumentParser
import BotGateway
import CurlHTTP
import Foundation
import Hummingbird
import Logging
import OCR
import Plugins
import ServiceLifecycle
import Storage

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the bot: the webhook server (or long polling), the pipeline workers and the reply sender.",
        discussion: """
        Needs TELEGRAM_BOT_TOKEN, and TELEGRAM_WEBHOOK_SECRET in webhook mode. Listens on BOT_HOST:BOT_PORT
        (POST /telegram/webhook, GET /healthz, GET /readyz). SIGTERM or Ctrl-C stops taking work, hands
        running jobs back and exits; the next start resumes them.
        """
    )

    @Flag(help: "Use getUpdates long polling instead of a webhook (for machines without a public HTTPS URL).")
    var poll = false

    @Flag(help: "Run no pipeline workers here: `botgateway worker` processes (on this or other machines, with DATABASE_URL) do the work.")
    var noWorkers = false

    func run() async throws {
        try LogSetup.bootstrap()
        let configuration = try GatewayConfiguration.fromEnvironment()
        let settings = try GatewaySettings.fromEnvironment(ProcessInfo.processInfo.environment, dataDirectory: configuration.dataDirectory,
                                                           requireSecret: !poll)
        // Held until exit: a second serve on this data folder would fetch, process and answer everything twice.
        let lock = try configuration.lockDataDirectory()
        defer { withExtendedLifetime(lock) {} }
        let http = HTTPClient()
        let (database, blobs) = try await configuration.openStorage(http: http)
        let logger = Logger(label: "botgateway")
        // Started now, not on the first document: missing language data stops `serve` at once.
        let engines = configuration.ocrEngines()
        let pool = try await engines.pool()
        let (analyzer, summarizer) = configuration.makeAnalyzer(http: http)
        logger.info("analyser", metadata: ["name": "\(analyzer.name)", "model": "\(configuration.llm?.model ?? "-")", "host": "\(configuration.llm?.host ?? "-")"])
        let telegram = TelegramClient(token: settings.token, baseURL: settings.apiBaseURL, http: http, logger: Logger(label: "telegram"))
        let dependencies = Gateway.Dependencies(
            settings: settings, database: database, blobs: blobs, telegram: telegram,
            steps: configuration.steps(ocr: engines, blobs: blobs, http: http, analyzer: analyzer),
            workers: noWorkers ? 0 : configuration.ocr.workers * 2, logger: logger, ocrQueueDepth: { pool.queueDepth },
            reportArchiver: configuration.reportArchiver(http: http), summarizer: summarizer, archivedCopies: configuration.archivedCopies(http: http),
            callbackSigner: try configuration.callbackSigner(), http: http,
            searchablePDFs: configuration.searchablePDFs(ocr: engines, blobs: blobs), answerer: summarizer,
            pageReader: { [pdfs = configuration.searchablePDF ? blobs : nil] path in
                try await OCRPlugin.read(path, engines: pool, searchablePDFs: pdfs, logger: logger)
            })
        let app = Gateway.buildApplication(dependencies, mode: poll ? .polling : .webhook) { port in
            logger.info("serving", metadata: ["host": "\(settings.host)", "port": "\(port)", "mode": "\(poll ? "polling" : "webhook")"])
        }
        do {
            try await app.runService()
        } catch {
            await pool.shutdown()
            http.shutdown()
            throw WorkFailed(message: "the server stopped: \(stopReason(error, host: settings.host, port: settings.port, option: "BOT_PORT"))")
        }
        await pool.shutdown()
        http.shutdown()
        await database.close()
    }
}

/// A pipeline worker and nothing else: claims jobs from the shared store, runs their steps, and on SIGTERM hands
/// its running steps back. Run any number, on any machine that reaches the database (and the documents).
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run only the pipeline: OCR, analysis and archiving for the jobs a serve (or batch) queued.",
        discussion: """
        With DATABASE_URL the worker shares PostgreSQL with the gateway and any number of other workers;
        without it, the SQLite file in BOT_DATA_DIR on this machine. On another machine than the gateway, set
        BLOB_STORE=s3 (and S3_*) on both so the worker reads the documents from the bucket.
        OCR_WORKERS engines, two jobs per engine. Serves /healthz, /readyz and /metrics on BOT_HOST:--port.
        SIGTERM or Ctrl-C hands running steps back; a killed worker's steps are taken over when its lease ends.
        """
    )

    @Option(help: "Port for /healthz, /readyz and this worker's /metrics, on BOT_HOST (0: any free port).")
    var port: Int = 8081

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
    }

    func run() async throws {
        try LogSetup.bootstrap()
        let configuration = try GatewayConfiguration.fromEnvironment()
        let http = HTTPClient()
        defer { http.shutdown() }
        let (database, blobs) = try await configuration.openStorage(http: http)
        let logger = Logger(label: "worker")
        let engines = configuration.ocrEngines()
        let pool = try await engines.pool()
        let (analyzer, _) = configuration.makeAnalyzer(http: http)
        let environment = ProcessInfo.processInfo.environment
        let host = GatewaySettings.host(environment)
        let minimumFreeBytes = try GatewaySettings.minimumFreeBytes(environment)
        logger.info("worker", metadata: ["store": "\(database.location)", "documents": "\(blobs.remote?.location ?? "local disk")",
                                         "analyser": "\(analyzer.name)", "jobs": "\(configuration.ocr.workers * 2)"])
        let app = WorkerApplication.build(WorkerApplication.Dependencies(
            database: database, blobs: blobs, steps: configuration.steps(ocr: engines, blobs: blobs, http: http, analyzer: analyzer),
            workers: configuration.ocr.workers * 2, host: host, port: port, dataDirectory: configuration.dataDirectory,
            minimumFreeBytes: minimumFreeBytes, ocrQueueDepth: { pool.queueDepth }, logger: logger)) { port in
            logger.info("serving", metadata: ["host": "\(host)", "port": "\(port)", "mode": "worker"])
        }
        do {
            try await app.runService()
        } catch {
            await pool.shutdown()
            throw WorkFailed(message: "the worker stopped: \(stopReason(error, host: host, port: port, option: "--port"))")
        }
        await pool.shutdown()
        await database.close()
    }
}

struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook",
        abstract: "Point Telegram at this bot's webhook, remove it, or show its state.",
        subcommands: [Set.self, Delete.self, Info.self]
    )

    static func client(requireSecret: Bool) throws -> (TelegramClient, GatewaySettings, HTTPClient) {
        let configuration = try GatewayConfiguration.fromEnvironment()
        let settings = try GatewaySettings.fromEnvironment(ProcessInfo.processInfo.environment, dataDirectory: configuration.dataDirectory,
                                                           requireSecret: requireSecret)
        let http = HTTPClient()
        return (TelegramClient(token: settings.token, baseURL: settings.apiBaseURL, http: http), settings, http)
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register URL (https, ending in /telegram/webhook) with TELEGRAM_WEBHOOK_SECRET.")

        @Argument(help: "The public HTTPS URL of POST /telegram/webhook.")
        var url: String

        @Flag(help: "Drop updates Telegram is still holding.")
        var dropPending = false

        func validate() throws {
            guard let parsed = URL(string: url), parsed.scheme == "https", parsed.host != nil else {
                throw ValidationError("Telegram only calls https URLs")
            }
        }

        func run() async throws {
            let (telegram, settings, http) = try WebhookCommand.client(requireSecret: true)
            defer { http.shutdown() }
            do {
                try await telegram.setWebhook(url: url, secretToken: settings.webhookSecret ?? "", dropPendingUpdates: dropPending)
                try? await telegram.setMyCommands([
                    ("help", "What I do"), ("status", "Where a document is"), ("report", "One report over your recent documents"),
                    ("search", "Find words in your documents"), ("ask", "Ask your documents a question"),
                    ("pdf", "A document as a searchable PDF"),
                ])
                print("webhook set")
            } catch let error as TelegramError {
                throw WorkFailed(message: error.description)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the webhook (for serve --poll).")

        func run() async throws {
            let (telegram, _, http) = try WebhookCommand.client(requireSecret: false)
            defer { http.shutdown() }
            do {
                try await telegram.deleteWebhook()
                print("webhook deleted")
            } catch let error as TelegramError {
                throw WorkFailed(message: error.description)
            }
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the webhook Telegram has, pending updates and the last error.")

        func run() async throws {
            let (telegram, _, http) = try WebhookCommand.client(requireSecret: false)
            defer { http.shutdown() }
            do {
                let info = try await telegram.getWebhookInfo()
                print("url: \(info.url.isEmpty ? "(none: polling)" : info.url)")
                print("pending updates: \(info.pendingUpdateCount ?? 0)")
                if let error = info.lastErrorMessage { print("last error: \(error)") }
            } catch let error as TelegramError {
                throw WorkFailed(message: error.description)
            }
        }
    }
}

/// Why the HTTP server stopped, in the operator's words: a port already taken says which and what to change
/// (several workers on one machine need a port each), anything else as it came.
func stopReason(_ error: any Error, host: String, port: Int, option: String) -> String {
    let text = String(describing: error)
    guard text.contains(String(cString: strerror(EADDRINUSE))) else { return text }
    return "port \(port) on \(host) is taken by another process; give this one another \(option) (0 picks any free port)"
}
