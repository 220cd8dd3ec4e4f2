import CoreMetrics
import Foundation
import Hummingbird
import Prometheus
import Storage

/// `GET /metrics` in Prometheus text format: jobs by state, queue depth and replies waiting (read from
/// SQLite at scrape time, so they are right after a restart), plus what the pipeline records as it runs
/// (step durations by step and outcome, finished jobs, LLM tokens and cost).
struct MetricsController {
    let registry: PrometheusCollectorRegistry
    let database: AppDatabase
    let ocrQueueDepth: @Sendable () -> Int

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("metrics") { _, _ -> Response in
            let stats = try await database.stats()
            for state in JobState.allCases {
                registry.makeGauge(name: "botgateway_jobs", labels: [("state", state.rawValue)]).set(Double(stats.jobs[state, default: 0]))
            }
            registry.makeGauge(name: "botgateway_queue_depth").set(Double(stats.jobs[.queued, default: 0]))
            registry.makeGauge(name: "botgateway_ocr_queue_depth").set(Double(ocrQueueDepth()))
            registry.makeGauge(name: "botgateway_replies_pending").set(Double(stats.pendingReplies))
            registry.makeGauge(name: "botgateway_documents").set(Double(stats.documents))
            for (step, count) in stats.unfinishedSteps {
                registry.makeGauge(name: "botgateway_steps_unfinished", labels: [("step", step)]).set(Double(count))
            }
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }
}
