import Foundation
import Logging
import Plugins
import ServiceLifecycle
import Storage

/// Runs the pipeline's workers as a service; cancellation hands running jobs back.
public struct PipelineService: Service {
    let pipeline: Pipeline
    let workers: Int

    public init(pipeline: Pipeline, workers: Int) {
        self.pipeline = pipeline
        self.workers = workers
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                if pipeline.blobs.remote != nil {
                    group.addTask { await trimCachedDocuments() }
                }
                await pipeline.run(workers: workers)
                group.cancelAll()
            }
        }
    }

    /// With documents in a shared store this node's copies are a cache: drop those nobody read for an hour.
    private func trimCachedDocuments() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .seconds(600))
            } catch {
                return
            }
            let blobs = pipeline.blobs
            _ = try? await BlockingWork.run { blobs.trimCache() }
        }
    }
}

/// Wakes the sweeper when the pipeline finishes a job.
struct PipelineEvents: PipelineObserver {
    let finished: Nudge

    func pipeline(_ event: PipelineEvent) async {
        switch event {
        case .jobFinished, .jobFailed: finished.fire()
        default: break
        }
    }
}
