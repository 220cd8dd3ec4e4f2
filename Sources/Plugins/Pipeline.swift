import CoreMetrics
import Foundation
import Logging
import OCR
import Storage
import Synchronization

/// The shared document store could not be reached for the job's document: the job waits for it.
struct DocumentStoreDown: Error {
    var message: String
}

/// What happened to a job, for whoever shows progress (the batch command, the Telegram replies).
public enum PipelineEvent: Sendable {
    case stepFinished(job: JobRecord, plugin: String, reused: Bool)
    case retryScheduled(job: JobRecord, plugin: String, error: String, at: Timestamp)
    case jobFinished(job: JobRecord)
    case jobFailed(job: JobRecord, plugin: String, error: String)
}

public protocol PipelineObserver: Sendable {
    func pipeline(_ event: PipelineEvent) async
}

/// Runs jobs through their plugins. Workers claim jobs from SQLite with a lease, run one step at a
/// time, store each result as it finishes, and retry transient failures with backoff. A crashed worker's
/// lease expires and another takes the job over at its first unfinished step.
public final class Pipeline: Sendable {
    public struct Settings: Sendable {
        public var retry: RetryPolicy
        /// How long a claim holds without renewal; renewed every third of it while a step runs.
        public var leaseSeconds: Double
        /// How often an idle worker looks for due work.
        public var pollInterval: Double
        /// The same when the store announces new work: only a fallback for a notification lost with its connection.
        public var announcedPollInterval: Double

        public init(retry: RetryPolicy = RetryPolicy(), leaseSeconds: Double = 60, pollInterval: Double = 0.2, announcedPollInterval: Double = 2) {
            self.retry = retry
            self.leaseSeconds = leaseSeconds
            self.pollInterval = pollInterval
            self.announcedPollInterval = announcedPollInterval
        }
    }

    public let queue: any JobQueue
    public let blobs: BlobStore
    public let settings: Settings
    /// Which steps exist, in order, and which are deferrable.
    public let steps: StepCatalog
    private let observer: (any PipelineObserver)?
    private let logger: Logger
    /// Injected, not global: `serve` passes its Prometheus registry, everything else records nothing.
    private let metrics: any MetricsFactory
    private let instance = String(UUID().uuidString.prefix(8))
    /// Document reads that failed in a row because the shared document store was down: how long jobs wait
    /// before the next try (`storeOutagePolicy`), not counted against their steps' attempts.
    private let storeOutage = Mutex(0)
    /// 1 s doubling to 30 s, for as long as the outage lasts.
    static let storeOutagePolicy = RetryPolicy(maxAttempts: .max, baseDelay: 1, maxDelay: 30)

    public init(queue: any JobQueue, blobs: BlobStore, steps: StepCatalog, settings: Settings = Settings(),
                observer: (any PipelineObserver)? = nil, logger: Logger = Logger(label: "pipeline"),
                metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.queue = queue
        self.blobs = blobs
        self.settings = settings
        self.steps = steps
        self.observer = observer
        self.logger = logger
        self.metrics = metrics
    }

    /// Step time by plugin and outcome, LLM tokens and cost, finished jobs: what `/metrics` shows.
    private func record(step: String, outcome: String, since started: ContinuousClock.Instant, usage: StepUsage) {
        Timer(label: "botgateway_step_duration_seconds", dimensions: [("step", step), ("outcome", outcome)], factory: metrics)
            .recordNanoseconds(Int64((ContinuousClock.now - started).milliseconds * 1_000_000))
        usage.record(to: metrics)
    }

    /// How long asking the store for a job takes on this node, whether it found one or not: the first thing
    /// to look at when workers on many machines contend for one queue.
    private func record(claim found: Bool, since started: ContinuousClock.Instant) {
        Timer(label: "botgateway_claim_duration_seconds", dimensions: [("node", Self.hostName), ("found", found ? "job" : "none")], factory: metrics)
            .recordNanoseconds(Int64((ContinuousClock.now - started).milliseconds * 1_000_000))
    }

    private func record(jobOutcome: String) {
        Counter(label: "botgateway_jobs_finished_total", dimensions: [("outcome", jobOutcome)], factory: metrics).increment()
    }

    /// Runs `workers` workers until the task is cancelled, or — with `untilIdle` — until no job
    /// (of `groupID`, if given) has work left other than deferrable steps waiting for a retry.
    public func run(workers: Int, groupID: Int64? = nil, untilIdle: Bool = false) async {
        do {
            let expired = try await queue.expireLeases(ofDeadOwners: Self.ownerIsAlive)
            if expired > 0 { logger.notice("taking over jobs of a stopped process", metadata: ["jobs": "\(expired)"]) }
        } catch {
            logger.error("could not check for stopped workers", metadata: ["error": "\(error)"])
        }
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<max(1, workers) {
                group.addTask { await self.workerLoop(owner: "\(Self.hostName):\(getpid()):\(self.instance):\(index)", groupID: groupID, untilIdle: untilIdle) }
            }
        }
    }

    static let hostName = ProcessInfo.processInfo.hostName

    /// Owners are `host:pid:instance:worker`. A process on this host that no longer exists is dead;
    /// owners on other hosts are trusted until their lease runs out.
    @Sendable static func ownerIsAlive(_ owner: String) -> Bool {
        let parts = owner.split(separator: ":")
        guard parts.count >= 2, String(parts[0]) == hostName, let pid = Int32(parts[1]) else { return true }
        if pid == getpid() { return true }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    private func workerLoop(owner: String, groupID: Int64?, untilIdle: Bool) async {
        // A store that announces new work lets idle workers look rarely; the poll stays as the fallback.
        let pollInterval = queue.announcesWork ? max(settings.pollInterval, settings.announcedPollInterval) : settings.pollInterval
        while !Task.isCancelled {
            do {
                let mark = queue.workMark()
                let asked = ContinuousClock.now
                let claim = try await queue.claimNextJob(owner: owner, leaseSeconds: settings.leaseSeconds, groupID: groupID)
                record(claim: claim != nil, since: asked)
                if let claimed = claim {
                    if let pause = await process(claimed) { try await Task.sleep(for: pause) }
                    continue
                }
                if untilIdle, try await !queue.hasUnfinishedJobs(groupID: groupID, ignoring: steps.deferrable) { return }
                let next = try await queue.nextDueTime(groupID: groupID) ?? (.now + pollInterval)
                let wait = min(pollInterval, max(0.005, next - .now))
                try await queue.waitForWork(after: mark, upTo: wait)
            } catch is CancellationError {
                return
            } catch {
                logger.error("worker could not reach the database; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Runs the job's steps; a pause before claiming again when the shared document store is down.
    private func process(_ first: ClaimedJob) async -> Duration? {
        var jobLogger = logger
        jobLogger[metadataKey: "job"] = "\(first.job.code)"
        if first.reclaimed { jobLogger.warning("took over a job whose worker stopped", metadata: ["step": "\(first.currentStep.plugin)"]) }

        let heartbeat = Task { [queue, settings] in
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(Int(settings.leaseSeconds * 1000 / 3)))
                guard try await queue.renewLease(jobID: first.jobID, owner: first.job.leaseOwner ?? "", leaseSeconds: settings.leaseSeconds) else { return }
            }
        }
        defer { heartbeat.cancel() }

        var claimed = first
        while true {
            let started = ContinuousClock.now
            do {
                guard let next = try await run(claimed, logger: jobLogger, started: started) else {
                    record(jobOutcome: "done")
                    var finished = claimed.job
                    finished.state = .done
                    await observer?.pipeline(.jobFinished(job: finished))
                    return nil
                }
                claimed = next
            } catch let outage as DocumentStoreDown {
                // Our store, not the document or the step: the job waits without spending an attempt, however
                // long the outage, and this worker looks less often until a read succeeds.
                let failures = storeOutage.withLock { count in
                    count += 1
                    return count
                }
                let wait = Self.storeOutagePolicy.delay(afterAttempt: failures, retryAfter: nil)
                jobLogger.warning("the document store is unreachable; the job waits", metadata: ["error": "\(outage.message)", "in": "\(Int(wait * 1000)) ms"])
                do {
                    try await queue.releaseJob(claimed, until: .now + wait, reason: "\(outage.message); the job waits for it")
                } catch {
                    jobLogger.error("could not hand the job back", metadata: ["error": "\(error)"])
                }
                return .milliseconds(Int(wait * 1000))
            } catch is CancellationError {
                // Shutting down: hand the job back; its step runs again on the next start. The write runs in
                // a task of its own because this one is cancelled, and GRDB refuses work to cancelled tasks.
                let queue = self.queue
                await Task { try? await queue.releaseJob(claimed) }.value
                return nil
            } catch let error as StorageError {
                if case .leaseLost = error {
                    jobLogger.warning("lost the job to another worker; dropping this run")
                } else {
                    jobLogger.error("could not record the step", metadata: ["error": "\(error)"])
                }
                return nil
            } catch {
                await fail(claimed, error: error, logger: jobLogger, started: started)
                return nil
            }
        }
    }

    /// Runs the claimed job's current step and records its result; the job claimed for its next step, or nil
    /// when that was the last.
    private func run(_ claimed: ClaimedJob, logger: Logger, started: ContinuousClock.Instant) async throws -> ClaimedJob? {
        let step = claimed.currentStep
        guard let plugin = steps.plugin(named: step.plugin) else {
            throw PluginError.permanent("this gateway has no '\(step.plugin)' step configured")
        }
        var outputs: [String: Data] = [:]
        for done in claimed.steps where done.state == .done {
            outputs[done.plugin] = done.output
        }
        let documentPath: String
        do {
            documentPath = try await blobs.checkout(claimed.document)
            storeOutage.withLock { $0 = 0 }
        } catch {
            // A document missing from the shared store does not come back by retrying; the store being down does.
            guard error.isTransient else { throw PluginError.permanent("the document cannot be read: \(error.description)") }
            throw DocumentStoreDown(message: error.description)
        }
        let context = PluginContext(job: claimed.job, document: claimed.document, documentPath: documentPath, outputs: outputs, logger: logger)
        let result = try await plugin.run(context)
        let elapsed = (ContinuousClock.now - started).milliseconds
        let next = try await queue.finishStep(claimed, output: result.output, usage: result.usage, milliseconds: elapsed,
                                              outcome: result.reused ? .reused : .done, documentText: result.documentText)
        record(step: step.plugin, outcome: result.reused ? "reused" : "done", since: started, usage: result.usage)
        await observer?.pipeline(.stepFinished(job: claimed.job, plugin: step.plugin, reused: result.reused))
        return next
    }

    private func fail(_ claimed: ClaimedJob, error: Error, logger: Logger, started: ContinuousClock.Instant) async {
        let step = claimed.currentStep
        let failure = Self.classify(error)
        record(step: step.plugin, outcome: failure.kind == .transient ? "transient_failure" : "permanent_failure", since: started, usage: failure.usage)
        let policy = steps.plugin(named: step.plugin)?.retryPolicy ?? settings.retry
        let retryAt: Timestamp? = failure.kind == .transient
            ? .now + policy.delay(afterAttempt: step.attempts, retryAfter: failure.retryAfter)
            : nil
        do {
            let state = try await queue.failStep(claimed, error: failure.message, retryAt: retryAt,
                                                  maxAttempts: policy.maxAttempts, usage: failure.usage)
            var job = claimed.job
            job.state = state
            job.lastError = failure.message
            if state == .queued, let retryAt {
                logger.notice("step failed, will retry", metadata: ["step": "\(step.plugin)", "attempt": "\(step.attempts)", "error": "\(failure.message)"])
                await observer?.pipeline(.retryScheduled(job: job, plugin: step.plugin, error: failure.message, at: retryAt))
            } else {
                logger.warning("job failed", metadata: ["step": "\(step.plugin)", "error": "\(failure.message)"])
                record(jobOutcome: "failed")
                await observer?.pipeline(.jobFailed(job: job, plugin: step.plugin, error: failure.message))
            }
        } catch {
            logger.error("could not record the failure", metadata: ["error": "\(error)"])
        }
    }

    /// Unknown errors are treated as transient: retrying a bug costs two attempts, failing a blip loses a document.
    static func classify(_ error: Error) -> PluginError {
        switch error {
        case let error as PluginError: error
        case let error as OCRError: PluginError(error.isTransient ? .transient : .permanent, error.description)
        default: PluginError(.transient, "\(error)")
        }
    }
}
