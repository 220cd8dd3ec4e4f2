import CurlHTTP
import Environment
import Foundation
import Logging
import OCR
import Plugins
import PostgresStore
import S3
import Storage
import UseCases

/// The composition root for the command-line tools: every dependency is built here from the
/// environment (SPEC §3), and nowhere else.
struct GatewayConfiguration {
    var dataDirectory: URL
    /// `DATABASE_URL`: state on this PostgreSQL server, shared by a gateway and its workers; SQLite in the data
    /// folder when unset.
    var databaseURL: String? = nil
    var ocr: OCRConfiguration
    /// `claude`, `openai` or `local` (SPEC §3: claude when an Anthropic key is set, else openai when an
    /// OpenAI key is set, else local).
    var analyzer: String
    /// The LLM endpoint for `claude` / `openai`; nil for `local`.
    var llm: LLMEndpoint?
    var llmOptions: LLMOptions
    /// Archiving is on when `S3_BUCKET` is set.
    var s3: S3Configuration?
    /// ISO 4217 code the local analyser gives amounts when a document neither prints nor implies one.
    var defaultCurrency: String? = nil
    /// `BLOB_STORE=s3`: documents in the `S3_*` bucket, so workers on other machines read them; local disk
    /// (the default) otherwise.
    var sharedBlobs = false
    /// `SEARCHABLE_PDF` (default true): the OCR step also keeps each document read from images as a PDF with a
    /// text layer (`/pdf`, the API, the dashboard, `batch --pdf`, the archive).
    var searchablePDF = true

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> GatewayConfiguration {
        let variables = EnvironmentVariables(environment)
        let value = variables.value
        let data = value("BOT_DATA_DIR") ?? "./data"
        let analyzer: String
        switch value("ANALYZER")?.lowercased() {
        case nil: analyzer = value("ANTHROPIC_API_KEY") != nil ? "claude" : value("OPENAI_API_KEY") != nil ? "openai" : "local"
        case let name? where ["claude", "openai", "local"].contains(name): analyzer = name
        default: throw ConfigurationError(variable: "ANALYZER", problem: "expected claude, openai or local")
        }
        var defaultCurrency: String?
        if let code = value("DEFAULT_CURRENCY")?.uppercased() {
            guard code.count == 3, code.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                throw ConfigurationError(variable: "DEFAULT_CURRENCY", problem: "expected a three-letter ISO 4217 code such as EUR")
            }
            defaultCurrency = code
        }
        if let url = value("DATABASE_URL") {
            do {
                _ = try DatabaseURL(url)
            } catch {
                throw ConfigurationError(variable: "DATABASE_URL", problem: error.description)
            }
        }
        let s3 = try s3(variables)
        let sharedBlobs: Bool
        switch value("BLOB_STORE")?.lowercased() {
        case nil, "local": sharedBlobs = false
        case "s3":
            guard s3 != nil else { throw ConfigurationError(variable: "BLOB_STORE", problem: "s3 needs S3_BUCKET and its credentials") }
            sharedBlobs = true
        default: throw ConfigurationError(variable: "BLOB_STORE", problem: "expected local or s3")
        }
        return GatewayConfiguration(
            dataDirectory: URL(fileURLWithPath: data).standardizedFileURL,
            databaseURL: value("DATABASE_URL"),
            ocr: try OCRConfiguration.fromEnvironment(environment),
            analyzer: analyzer,
            llm: try llmEndpoint(analyzer, value),
            llmOptions: try llmOptions(variables),
            s3: s3,
            defaultCurrency: defaultCurrency,
            sharedBlobs: sharedBlobs,
            searchablePDF: try variables.flag("SEARCHABLE_PDF", default: true))
    }

    static func llmEndpoint(_ analyzer: String, _ value: (String) -> String?) throws -> LLMEndpoint? {
        let prefix: String, defaultURL: String, defaultModel: String
        switch analyzer {
        case "claude": (prefix, defaultURL, defaultModel) = ("ANTHROPIC", ClaudeAnalyzer.defaultBaseURL, ClaudeAnalyzer.defaultModel)
        case "openai": (prefix, defaultURL, defaultModel) = ("OPENAI", OpenAIAnalyzer.defaultBaseURL, OpenAIAnalyzer.defaultModel)
        default: return nil
        }
        let base = value("\(prefix)_BASE_URL") ?? defaultURL
        guard let url = URL(string: base), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ConfigurationError(variable: "\(prefix)_BASE_URL", problem: "expected an http(s) URL")
        }
        let key = value("\(prefix)_API_KEY")
        // OpenAI-compatible servers on your own machine (Ollama, llama.cpp) may need no key; the real APIs do.
        if key == nil && (analyzer == "claude" || base == defaultURL) {
            throw ConfigurationError(variable: "\(prefix)_API_KEY", problem: "required when ANALYZER=\(analyzer)")
        }
        var timeout = 180.0
        if let raw = value("ANALYZER_TIMEOUT_SECONDS") {
            guard let seconds = Double(raw), seconds >= 1, seconds <= 3600 else {
                throw ConfigurationError(variable: "ANALYZER_TIMEOUT_SECONDS", problem: "expected seconds between 1 and 3600")
            }
            timeout = seconds
        }
        return LLMEndpoint(baseURL: base, apiKey: key.map(APIKey.init), model: value("\(prefix)_MODEL") ?? defaultModel,
                           timeout: .milliseconds(Int(timeout * 1000)))
    }

    static func llmOptions(_ variables: EnvironmentVariables) throws -> LLMOptions {
        let value = variables.value
        var options = LLMOptions()
        if let path = value("ANALYZER_PROMPT_FILE") {
            guard let prompt = try? String(contentsOfFile: path, encoding: .utf8),
                  !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw ConfigurationError(variable: "ANALYZER_PROMPT_FILE", problem: "cannot read a prompt from \(path)")
            }
            options.systemPrompt = prompt
        }
        if let path = value("LLM_PRICES_FILE") {
            do {
                options.prices = try PriceTable.loading(overridesAt: path)
            } catch {
                throw ConfigurationError(variable: "LLM_PRICES_FILE", problem: "expected JSON like {\"model\": {\"input\": 3, \"output\": 15}} (USD per million tokens): \(error)")
            }
        }
        options.sendDocument = try variables.flag("ANALYZER_SEND_DOCUMENT", default: true)
        return options
    }

    static func s3(_ variables: EnvironmentVariables) throws -> S3Configuration? {
        let value = variables.value
        guard let bucket = value("S3_BUCKET") else { return nil }
        var endpoint: URL?
        if let raw = value("S3_ENDPOINT") {
            guard let url = URL(string: raw), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ConfigurationError(variable: "S3_ENDPOINT", problem: "expected an http(s) URL")
            }
            endpoint = url
        }
        guard let access = value("S3_ACCESS_KEY_ID") ?? value("AWS_ACCESS_KEY_ID") else {
            throw ConfigurationError(variable: "S3_ACCESS_KEY_ID", problem: "required when S3_BUCKET is set (or AWS_ACCESS_KEY_ID)")
        }
        guard let secret = value("S3_SECRET_ACCESS_KEY") ?? value("AWS_SECRET_ACCESS_KEY") else {
            throw ConfigurationError(variable: "S3_SECRET_ACCESS_KEY", problem: "required when S3_BUCKET is set (or AWS_SECRET_ACCESS_KEY)")
        }
        let pathStyle = try variables.flag("S3_FORCE_PATH_STYLE", default: false)
        return S3Configuration(bucket: bucket, endpoint: endpoint, region: value("S3_REGION") ?? value("AWS_REGION") ?? "us-east-1",
                               prefix: value("S3_PREFIX") ?? "", forcePathStyle: pathStyle,
                               credentials: AWSCredentials(accessKeyID: access, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN")))
    }

    /// The bucket every node reads documents from, when `BLOB_STORE=s3`.
    func remoteBlobs(http: HTTPClient) -> (any RemoteBlobs)? {
        guard sharedBlobs, let s3 else { return nil }
        return S3Blobs(client: S3Client(configuration: s3, http: http))
    }

    /// The key completion callbacks are signed with: `API_CALLBACK_SECRET`, else the data folder's own.
    func callbackSigner() throws -> CallbackSigner {
        try CallbackSigner.load(secret: EnvironmentVariables().value("API_CALLBACK_SECRET"), dataDirectory: dataDirectory)
    }

    func reportArchiver(http: HTTPClient) -> ReportArchiver? {
        s3.map { ReportArchiver(client: S3Client(configuration: $0, http: http)) }
    }

    func archivedCopies(http: HTTPClient) -> ArchivedCopies? {
        s3.map { ArchivedCopies(client: S3Client(configuration: $0, http: http)) }
    }

    /// The step registry: the pipeline's steps in order — ocr, analyze, and archive when S3 is configured.
    /// `serve` and `batch` both take it from here; a new step is one line below (and its plugin).
    func steps(ocr engines: OCREngines, blobs: BlobStore, http: HTTPClient, analyzer: any Analyzer) -> StepCatalog {
        var plugins: [any Plugin] = [OCRPlugin(engines: { try await engines.pool() }, searchablePDFs: searchablePDF ? blobs : nil),
                                     AnalyzePlugin(analyzer: analyzer)]
        if let s3 { plugins.append(ArchivePlugin(client: S3Client(configuration: s3, http: http), blobs: blobs)) }
        return StepCatalog(plugins)
    }

    /// Searchable PDFs for the bot, the API, the dashboard and `batch --pdf`.
    func searchablePDFs(ocr engines: OCREngines, blobs: BlobStore) -> SearchablePDFs {
        SearchablePDFs(blobs: blobs, engines: { try await engines.pool() })
    }

    /// The OCR engines this configuration asks for, started on first use.
    func ocrEngines() -> OCREngines {
        OCREngines(configuration: ocr, scratch: dataDirectory.appendingPathComponent("tmp"))
    }

    /// The store (`DATABASE_URL`'s PostgreSQL, else SQLite in the data folder) and the document folder, created
    /// on first use; a folder that cannot be created or a database that cannot be reached or used is a
    /// configuration error in plain words. Commands that read or write documents pass `http`: with
    /// `BLOB_STORE=s3` their blob store then writes through to, and reads from, the bucket.
    func openStorage(http: HTTPClient? = nil) async throws -> (any GatewayStore, BlobStore) {
        try createDataDirectory()
        let blobs: BlobStore
        do {
            blobs = try BlobStore(dataDirectory: dataDirectory, remote: http.flatMap(remoteBlobs))
            blobs.removeLeftovers()
            blobs.trimCache()
        } catch {
            throw ConfigurationError(variable: "BOT_DATA_DIR", problem: error.description)
        }
        if let databaseURL {
            do {
                return (try await PostgresDatabase.open(databaseURL, logger: Logger(label: "postgres")), blobs)
            } catch let error as StorageError {
                throw ConfigurationError(variable: "DATABASE_URL", problem: error.description)
            }
        }
        do {
            return (try AppDatabase(path: dataDirectory.appendingPathComponent("botgateway.sqlite").path), blobs)
        } catch {
            throw ConfigurationError(variable: "BOT_DATA_DIR", problem: error.description)
        }
    }

    /// `serve`'s exclusive claim on the data folder, held until the process ends; a second `serve` on the same
    /// folder stops here, before any worker starts. `batch`, `jobs`, `users` and `doctor` do not take it and may
    /// run beside a `serve`.
    func lockDataDirectory() throws -> DataDirectoryLock {
        try createDataDirectory()
        do {
            return try DataDirectoryLock.acquire(dataDirectory: dataDirectory)
        } catch {
            throw ConfigurationError(variable: "BOT_DATA_DIR", problem: error.description)
        }
    }

    private func createDataDirectory() throws {
        do {
            try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ConfigurationError(variable: "BOT_DATA_DIR", problem: "cannot create \(dataDirectory.path): \(error.localizedDescription)")
        }
    }

    /// The analyser, once per process (an OpenAI-compatible server's quirks are learnt by the instance);
    /// LLM analysers also write reports' executive summaries and answer `/ask`.
    func makeAnalyzer(http: HTTPClient) -> (analyzer: any Analyzer, summarizer: (any DocumentWriter)?) {
        switch (analyzer, llm) {
        case ("claude", let endpoint?):
            let claude = ClaudeAnalyzer(http: http, endpoint: endpoint, options: llmOptions, logger: Logger(label: "claude"))
            return (claude, claude)
        case ("openai", let endpoint?):
            let openAI = OpenAIAnalyzer(http: http, endpoint: endpoint, options: llmOptions, logger: Logger(label: "openai"))
            return (openAI, openAI)
        default:
            return (LocalAnalyzer(defaultCurrency: defaultCurrency), nil)
        }
    }

    var reportsDirectory: URL { dataDirectory.appendingPathComponent("reports") }

    /// `batch`'s use case on this configuration's store and steps, and whether it writes an executive summary.
    func batchRun(http: HTTPClient, engines: OCREngines) async throws -> (BatchRun, (any ReportSummarizer)?) {
        let (database, blobs) = try await openStorage(http: http)
        let (analyzer, summarizer) = makeAnalyzer(http: http)
        let steps = steps(ocr: engines, blobs: blobs, http: http, analyzer: analyzer)
        let composer = ReportComposer(summarizer: summarizer, usage: database, logger: Logger(label: "report"))
        let reports = StoreReportService(documents: database, composer: composer, steps: steps, folder: reportsDirectory, archiver: reportArchiver(http: http))
        let batch = BatchRun(documents: database, queue: database, blobs: blobs, intake: DocumentIntake(blobs: blobs, maxBytes: Int64(ocr.limits.maxBytes)),
                             steps: steps, reports: reports)
        return (batch, summarizer)
    }
}
