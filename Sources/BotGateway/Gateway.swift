import CurlHTTP
import Foundation
import Hummingbird
import Logging
import OCR
import Plugins
import Prometheus
import ServiceLifecycle
import Storage
import UseCases
import CoreMetrics

/// The composition root of `serve`: every dependency is built by the caller and wired here into one
/// Hummingbird application whose ServiceGroup also runs the pipeline workers, the update processor, the
/// reply sender and the sweeper, with graceful shutdown on SIGTERM/SIGINT. Tests call it the same way.
public enum Gateway {
    public enum Mode: Sendable {
        case webhook
        case polling
    }

    public struct Dependencies: Sendable {
        public var settings: GatewaySettings
        public var database: any GatewayStore
        public var blobs: BlobStore
        public var telegram: TelegramClient
        /// The steps, in order (ocr, analyze, …).
        public var steps: StepCatalog
        public var workers: Int
        public var albumQuiet: Double
        public var logger: Logger
        /// Documents waiting for an OCR engine, for `/metrics`.
        public var ocrQueueDepth: @Sendable () -> Int
        /// Uploads consolidated reports when archiving is on.
        public var reportArchiver: ReportArchiver?
        /// Writes reports' executive summaries (an LLM analyser); nil with the local analyser.
        public var summarizer: (any ReportSummarizer)?
        /// Answers `/ask` from the best-matching documents (an LLM analyser); nil: the passages are the answer.
        public var answerer: (any QuestionAnswerer)?
        /// Deletes a forgotten document's copies in the bucket when archiving is on.
        public var archivedCopies: ArchivedCopies?
        /// Signs the HTTP API's completion callbacks (`API_CALLBACK_SECRET` or the data folder's key).
        public var callbackSigner: CallbackSigner
        /// The process's client for outgoing calls, which also posts the callbacks.
        public var http: HTTPClient
        /// Documents as searchable PDFs for `/pdf`, the API and the dashboard (nil: not offered).
        public var searchablePDFs: SearchablePDFs?
        /// Reads an album's photos to tell pages of one document from distinct documents (`/albums auto`); nil
        /// keeps such albums apart.
        public var pageReader: PageSetAssembler.PageReader?
        /// A `/merge` without `/done` is put together once no page came for this long.
        public var mergeQuiet: Double

        public init(settings: GatewaySettings, database: any GatewayStore, blobs: BlobStore, telegram: TelegramClient, steps: StepCatalog,
                    workers: Int, albumQuiet: Double = 2.5, logger: Logger, ocrQueueDepth: @escaping @Sendable () -> Int = { 0 },
                    reportArchiver: ReportArchiver? = nil, summarizer: (any ReportSummarizer)? = nil, archivedCopies: ArchivedCopies? = nil,
                    callbackSigner: CallbackSigner? = nil, http: HTTPClient, searchablePDFs: SearchablePDFs? = nil,
                    answerer: (any QuestionAnswerer)? = nil, pageReader: PageSetAssembler.PageReader? = nil, mergeQuiet: Double = 120) {
            self.settings = settings
            self.database = database
            self.blobs = blobs
            self.telegram = telegram
            self.steps = steps
            self.workers = workers
            self.albumQuiet = albumQuiet
            self.logger = logger
            self.ocrQueueDepth = ocrQueueDepth
            self.reportArchiver = reportArchiver
            self.summarizer = summarizer
            self.archivedCopies = archivedCopies
            self.callbackSigner = callbackSigner ?? CallbackSigner(key: Data((0..<32).map { _ in UInt8.random(in: 0...255) }))
            self.http = http
            self.searchablePDFs = searchablePDFs
            self.answerer = answerer
            self.pageReader = pageReader
            self.mergeQuiet = mergeQuiet
        }
    }

    public static func buildApplication(_ dependencies: Dependencies, mode: Mode,
                                        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let logger = dependencies.logger, database = dependencies.database, settings = dependencies.settings
        let arrived = Nudge(), finished = Nudge(), queued = Nudge(), callbacksDue = Nudge()
        let registry = PrometheusCollectorRegistry()
        let metrics = PrometheusMetricsFactory(registry: registry)
        let pipeline = Pipeline(queue: database, blobs: dependencies.blobs, steps: dependencies.steps,
                                observer: PipelineEvents(finished: [finished, callbacksDue]), logger: Logger(label: "pipeline"), metrics: metrics)
        // One composer for the bot's reports and the API's group reports.
        let composer = ReportComposer(summarizer: dependencies.summarizer, usage: database, logger: Logger(label: "report"), metrics: metrics)
        let access = Self.dashboardAccess(dependencies)
        let services = Self.services(dependencies, composer: composer, dashboard: access, metrics: metrics)
        let handler = UpdateHandler(services: services, downloadLimit: settings.downloadLimit,
                                    scratch: settings.dataDirectory.appendingPathComponent("tmp"), logger: Logger(label: "telegram"))
        var lifecycle: [any Service] = [
            UpdateProcessor(inbox: database, handler: handler, arrived: arrived, logger: logger),
            NotificationSweeper(outbox: database, reports: services.reports, answerStep: dependencies.steps.answerStep, finished: finished,
                                queued: queued, albumQuiet: dependencies.albumQuiet, chats: database,
                                blobs: dependencies.searchablePDFs == nil ? nil : dependencies.blobs, logger: logger),
            ReplySender(outbox: database, telegram: dependencies.telegram, delivery: settings.replyDelivery,
                        dataDirectory: settings.dataDirectory, queued: queued, logger: logger),
            PageSetSweeper(store: database, assembler: pageAssembler(dependencies, jobs: services.jobs), replies: database,
                           albumQuiet: dependencies.albumQuiet, mergeQuiet: dependencies.mergeQuiet, queued: queued, logger: Logger(label: "pages")),
        ]
        // `serve --no-workers`: the workers run elsewhere (`botgateway worker`).
        if dependencies.workers > 0 { lifecycle.append(PipelineService(pipeline: pipeline, workers: dependencies.workers)) }
        if dependencies.blobs.remote != nil { lifecycle.append(BlobCacheService(blobs: dependencies.blobs)) }
        lifecycle.append(CallbackSender(outbox: database, documents: database, tokens: database, http: dependencies.http,
                                        signer: dependencies.callbackSigner, settings: settings.api, answerStep: dependencies.steps.answerStep,
                                        finished: callbacksDue, logger: Logger(label: "callbacks")))
        let router = Router()
        addOperationalRoutes(to: router, database: database, registry: registry, dataDirectory: settings.dataDirectory,
                             minimumFreeBytes: settings.minimumFreeBytes, ocrQueueDepth: dependencies.ocrQueueDepth)
        apiController(dependencies, services: services, composer: composer).addRoutes(to: router)
        DashboardController(access: access, store: database, jobs: services.jobs,
                            whitelist: services.whitelist, blobs: dependencies.blobs, steps: dependencies.steps.names,
                            answerStep: dependencies.steps.answerStep, dataDirectory: settings.dataDirectory,
                            ocrQueueDepth: dependencies.ocrQueueDepth, pdfs: dependencies.searchablePDFs,
                            logger: Logger(label: "dashboard")).addRoutes(to: router)
        switch mode {
        case .webhook:
            WebhookController(secret: dependencies.settings.webhookSecret ?? "", inbox: database, arrived: arrived, logger: logger)
                .addRoutes(to: router)
        case .polling:
            lifecycle.append(PollingReceiver(inbox: database, telegram: dependencies.telegram, arrived: arrived, logger: logger))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(dependencies.settings.host, port: dependencies.settings.port), serverName: "botgateway"),
            services: lifecycle,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// `/healthz`, `/readyz` and `/metrics`: what every process that serves HTTP (gateway and worker) answers.
    static func addOperationalRoutes(to router: Router<BasicRequestContext>, database: any GatewayStore, registry: PrometheusCollectorRegistry,
                                     dataDirectory: URL, minimumFreeBytes: Int64, ocrQueueDepth: @escaping @Sendable () -> Int) {
        HealthController(queue: database, dataDirectory: dataDirectory, minimumFreeBytes: minimumFreeBytes).addRoutes(to: router)
        MetricsController(registry: registry, database: database, dataDirectory: dataDirectory, ocrQueueDepth: ocrQueueDepth).addRoutes(to: router)
    }

    /// `/api/v1` on the same services and store as the bot.
    static func apiController(_ dependencies: Dependencies, services: BotServices, composer: ReportComposer) -> APIController {
        let database = dependencies.database, settings = dependencies.settings
        let intake = DocumentIntake(blobs: dependencies.blobs, maxBytes: settings.api.maxUploadBytes)
        let service = APIService(jobs: services.jobs, documents: database, store: database, blobs: dependencies.blobs, intake: intake, composer: composer,
                                 answerStep: dependencies.steps.answerStep, reports: settings.dataDirectory.appendingPathComponent("reports"))
        return APIController(service: service, tokens: APITokenService(store: database), settings: settings.api,
                             scratch: settings.dataDirectory.appendingPathComponent("tmp"), blobs: dependencies.blobs, answerStep: dependencies.steps.answerStep,
                             pdfs: dependencies.searchablePDFs, logger: Logger(label: "api"))
    }

    /// The dashboard's sign-in links and sessions, keyed from the gateway's key (the same on every gateway
    /// sharing `API_CALLBACK_SECRET`).
    public static func dashboardAccess(_ dependencies: Dependencies) -> DashboardAccess {
        let settings = dependencies.settings
        return DashboardAccess(store: dependencies.database, whitelist: StoreWhitelistService(adminIDs: settings.adminIDs, store: dependencies.database),
                               key: dependencies.callbackSigner.derivedKey(for: "dashboard-session"), baseURL: settings.dashboardBaseURL,
                               sessionLifetime: settings.dashboardSessionLifetime)
    }

    /// Puts albums and `/merge` pages together, with the bot's limit on a file for each page.
    static func pageAssembler(_ dependencies: Dependencies, jobs: any JobService) -> PageSetAssembler {
        let settings = dependencies.settings
        return PageSetAssembler(store: dependencies.database, documents: dependencies.database, jobs: jobs, blobs: dependencies.blobs,
                                intake: DocumentIntake(blobs: dependencies.blobs, maxBytes: settings.downloadLimit), read: dependencies.pageReader,
                                limits: OCRLimits(maxBytes: Int(settings.downloadLimit)), logger: Logger(label: "pages"))
    }

    /// The use cases the bot calls, on this gateway's store.
    static func services(_ dependencies: Dependencies, composer: ReportComposer, dashboard: DashboardAccess, metrics: any MetricsFactory) -> BotServices {
        let database = dependencies.database, settings = dependencies.settings
        let intake = DocumentIntake(blobs: dependencies.blobs, maxBytes: settings.downloadLimit)
        return BotServices(
            jobs: StoreJobService(documents: database, queue: database, usage: database, blobs: dependencies.blobs, intake: intake,
                                  steps: dependencies.steps, archive: dependencies.archivedCopies),
            reports: StoreReportService(documents: database, composer: composer, steps: dependencies.steps,
                                        folder: settings.dataDirectory.appendingPathComponent("reports"), archiver: dependencies.reportArchiver),
            whitelist: StoreWhitelistService(adminIDs: settings.adminIDs, store: database),
            search: StoreSearchService(documents: database),
            replies: database, files: dependencies.telegram, dashboard: dashboard, pdfs: dependencies.searchablePDFs, chats: database,
            ask: StoreAskService(documents: database, usage: database, answerer: dependencies.answerer, dailyLimit: settings.askDailyLimit,
                                 metrics: metrics, logger: Logger(label: "ask")),
            pages: StorePageSetService(store: database, intake: intake))
    }
}
