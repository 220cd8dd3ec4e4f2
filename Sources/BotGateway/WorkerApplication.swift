import Foundation
import Hummingbird
import Logging
import Plugins
import Prometheus
import ServiceLifecycle
import Storage

/// `botgateway worker` as an application: the pipeline (and the blob cache's trimming) as services, and a small
/// HTTP server with `/healthz`, `/readyz` and this node's `/metrics` (its step durations, its claim latency,
/// the shared queue's depth) for an orchestrator's health check and a Prometheus scrape per node.
public enum WorkerApplication {
    public struct Dependencies: Sendable {
        public var database: any GatewayStore
        public var blobs: BlobStore
        public var steps: StepCatalog
        /// Jobs run at once on this node.
        public var workers: Int
        public var host: String
        public var port: Int
        public var dataDirectory: URL
        public var minimumFreeBytes: Int64
        public var ocrQueueDepth: @Sendable () -> Int
        public var logger: Logger

        public init(database: any GatewayStore, blobs: BlobStore, steps: StepCatalog, workers: Int, host: String, port: Int, dataDirectory: URL,
                    minimumFreeBytes: Int64 = 200_000_000, ocrQueueDepth: @escaping @Sendable () -> Int, logger: Logger) {
            self.database = database
            self.blobs = blobs
            self.steps = steps
            self.workers = workers
            self.host = host
            self.port = port
            self.dataDirectory = dataDirectory
            self.minimumFreeBytes = minimumFreeBytes
            self.ocrQueueDepth = ocrQueueDepth
            self.logger = logger
        }
    }

    public static func build(_ dependencies: Dependencies, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let registry = PrometheusCollectorRegistry()
        let metrics = PrometheusMetricsFactory(registry: registry)
        let pipeline = Pipeline(queue: dependencies.database, blobs: dependencies.blobs, steps: dependencies.steps,
                                logger: Logger(label: "pipeline"), metrics: metrics)
        let router = Router()
        Gateway.addOperationalRoutes(to: router, database: dependencies.database, registry: registry, dataDirectory: dependencies.dataDirectory,
                                     minimumFreeBytes: dependencies.minimumFreeBytes, ocrQueueDepth: dependencies.ocrQueueDepth)
        var services: [any Service] = [PipelineService(pipeline: pipeline, workers: dependencies.workers)]
        if dependencies.blobs.remote != nil { services.append(BlobCacheService(blobs: dependencies.blobs)) }
        return Application(
            router: router,
            configuration: .init(address: .hostname(dependencies.host, port: dependencies.port), serverName: "botgateway-worker"),
            services: services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: dependencies.logger)
    }
}
