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
            await pipeline.run(workers: workers)
        }
    }
}

/// With documents in a shared store (`BLOB_STORE=s3`) this node's copies are a cache: every ten minutes it
/// drops those nobody read for an hour. Added (on gateways and workers alike) only when there is a shared store.
struct BlobCacheService: Service {
    let blobs: BlobStore

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: .seconds(600))
                } catch {
                    return
                }
                let blobs = self.blobs
                _ = try? await BlockingWork.run { blobs.trimCache() }
            }
        }
    }
}

/// Wakes the sweeper and the callback sender when the pipeline finishes a job.
struct PipelineEvents: PipelineObserver {
    let finished: [Nudge]

    func pipeline(_ event: PipelineEvent) async {
        switch event {
        case .jobFinished, .jobFailed: for nudge in finished { nudge.fire() }
        default: break
        }
    }
}
