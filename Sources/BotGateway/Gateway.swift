import CurlHTTP
import Foundation
import Hummingbird
import Logging
import OCR
import Plugins
import Prometheus
import ServiceLifecycle
import Storage

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
        public var database: AppDatabase
        public var blobs: BlobStore
        public var telegram: TelegramClient
        /// Plugins in step order (ocr, analyze, …).
        public var plugins: [any Plugin]
        public var workers: Int
        public var albumQuiet: Double
        public var logger: Logger
        /// Documents waiting for an OCR engine, for `/metrics`.
        public var ocrQueueDepth: @Sendable () -> Int
        /// Uploads consolidated reports when archiving is on.
        public var reportArchiver: ReportArchiver?
        /// Writes reports' executive summaries (an LLM analyser); nil with the local analyser.
        public var summarizer: (any ReportSummarizer)?

        public init(settings: GatewaySettings, database: AppDatabase, blobs: BlobStore, telegram: TelegramClient, plugins: [any Plugin],
                    workers: Int, albumQuiet: Double = 2.5, logger: Logger, ocrQueueDepth: @escaping @Sendable () -> Int = { 0 },
                    reportArchiver: ReportArchiver? = nil, summarizer: (any ReportSummarizer)? = nil) {
            self.settings = settings
            self.database = database
            self.blobs = blobs
            self.telegram = telegram
            self.plugins = plugins
            self.workers = workers
            self.albumQuiet = albumQuiet
            self.logger = logger
            self.ocrQueueDepth = ocrQueueDepth
            self.reportArchiver = reportArchiver
            self.summarizer = summarizer
        }
    }

    public static func buildApplication(_ dependencies: Dependencies, mode: Mode,
                                        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let logger = dependencies.logger
        let arrived = Signal(), finished = Signal(), queued = Signal()
        let registry = PrometheusCollectorRegistry()
        let metrics = PrometheusMetricsFactory(registry: registry)
        let pipeline = Pipeline(database: dependencies.database, blobs: dependencies.blobs, plugins: dependencies.plugins,
                                observer: PipelineEvents(finished: finished), logger: Logger(label: "pipeline"), metrics: metrics)
        let reports = ReportComposer(summarizer: dependencies.summarizer, database: dependencies.database, logger: Logger(label: "report"), metrics: metrics)
        let handler = UpdateHandler(settings: dependencies.settings, database: dependencies.database,
                                    intake: DocumentIntake(blobs: dependencies.blobs, maxBytes: dependencies.settings.downloadLimit),
                                    telegram: dependencies.telegram, steps: pipeline.stepNames, reports: reports, reportArchiver: dependencies.reportArchiver,
                                    logger: Logger(label: "telegram"))
        var services: [any Service] = [
            PipelineService(pipeline: pipeline, workers: dependencies.workers),
            UpdateProcessor(database: dependencies.database, handler: handler, arrived: arrived, logger: logger),
            NotificationSweeper(database: dependencies.database, dataDirectory: dependencies.settings.dataDirectory, finished: finished,
                                queued: queued, albumQuiet: dependencies.albumQuiet, reports: reports, reportArchiver: dependencies.reportArchiver, logger: logger),
            ReplySender(database: dependencies.database, telegram: dependencies.telegram, delivery: dependencies.settings.replyDelivery,
                        dataDirectory: dependencies.settings.dataDirectory, queued: queued, logger: logger),
        ]
        let router = Router()
        HealthController(database: dependencies.database, dataDirectory: dependencies.settings.dataDirectory,
                         minimumFreeBytes: dependencies.settings.minimumFreeBytes).addRoutes(to: router)
        MetricsController(registry: registry, database: dependencies.database, dataDirectory: dependencies.settings.dataDirectory,
                          ocrQueueDepth: dependencies.ocrQueueDepth).addRoutes(to: router)
        switch mode {
        case .webhook:
            WebhookController(secret: dependencies.settings.webhookSecret ?? "", database: dependencies.database, arrived: arrived, logger: logger)
                .addRoutes(to: router)
        case .polling:
            services.append(PollingReceiver(database: dependencies.database, telegram: dependencies.telegram, arrived: arrived, logger: logger))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(dependencies.settings.host, port: dependencies.settings.port), serverName: "botgateway"),
            services: services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}
