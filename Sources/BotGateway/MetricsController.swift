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
    let database: any GatewayStore
    let dataDirectory: URL
    let ocrQueueDepth: @Sendable () -> Int

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("metrics") { _, _ -> Response in
            let stats = try await database.stats()
            for state in JobState.allCases {
                gauge("botgateway_jobs", "Jobs by state.", [("state", state.rawValue)]).set(Double(stats.jobs[state, default: 0]))
            }
            gauge("botgateway_queue_depth", "Jobs waiting for a worker.").set(Double(stats.jobs[.queued, default: 0]))
            gauge("botgateway_ocr_queue_depth", "Documents waiting for an OCR engine.").set(Double(ocrQueueDepth()))
            gauge("botgateway_replies_pending", "Replies waiting to be sent.").set(Double(stats.pendingReplies))
            gauge("botgateway_documents", "Documents stored.").set(Double(stats.documents))
            for (step, count) in stats.unfinishedSteps {
                gauge("botgateway_steps_unfinished", "Steps not done yet, by step.", [("step", step)]).set(Double(count))
            }
            // Undelivered replies are results Telegram never took: an operator's alert.
            let replies = try await database.replyCounts()
            for state in OutboxState.allCases {
                gauge("botgateway_replies", "Replies by state.", [("state", state.rawValue)]).set(Double(replies[state, default: 0]))
            }
            if let free = DiskSpace.available(at: dataDirectory) {
                gauge("botgateway_data_free_bytes", "Free space in the data folder's file system.").set(Double(free))
            }
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }
}
