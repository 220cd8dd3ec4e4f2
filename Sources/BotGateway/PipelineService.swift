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
