import Foundation

/// A job handed to one worker, with the step it is to run now.
public struct ClaimedJob: Sendable, Equatable {
    public var job: JobRecord
    public var document: DocumentRecord
    public var steps: [StepRecord]
    /// Index into `steps` of the step just begun.
    public var current: Int
    /// True when the job was taken over from a worker whose lease expired.
    public var reclaimed: Bool

    public init(job: JobRecord, document: DocumentRecord, steps: [StepRecord], current: Int, reclaimed: Bool) {
        self.job = job
        self.document = document
        self.steps = steps
        self.current = current
        self.reclaimed = reclaimed
    }

    public var currentStep: StepRecord { steps[current] }
    public var jobID: Int64 { job.id! }
}

/// A job with its document and steps, for reports, `jobs show` and `/status`.
public struct JobDetails: Sendable, Equatable {
    public var job: JobRecord
    public var document: DocumentRecord
    public var steps: [StepRecord]

    public init(job: JobRecord, document: DocumentRecord, steps: [StepRecord]) {
        self.job = job
        self.document = document
        self.steps = steps
    }

    /// The rule for "the requester can be told": the step whose output is the answer is done, or the job is
    /// over. (`unnotifiedJobs` and `completedAlbums` say the same in SQL.)
    public func isAnswered(answerStep: String) -> Bool {
        job.state.isTerminal || output(of: answerStep) != nil
    }

    public func output(of plugin: String) -> Data? {
        steps.first { $0.plugin == plugin && $0.state == .done }?.output
    }

    public var usage: StepUsage {
        steps.reduce(StepUsage()) { $0 + StepUsage(model: $1.model, inputTokens: $1.inputTokens, outputTokens: $1.outputTokens, costUSD: $1.costUSD) }
    }
}

/// The state changes of a claimed job, in memory, the same for every store: the store writes what they set.
extension ClaimedJob {
    /// The document's text as the step read it, kept with the document.
    public mutating func keep(_ text: DocumentText) {
        document.ocrText = text.text
        document.ocrResult = text.result
        document.pages = text.pages
    }
}

extension StepRecord {
    public mutating func begin(now: Timestamp) {
        state = .running
        attempts += 1
        startedAt = now
        error = nil
    }

    public mutating func finish(output: Data, milliseconds: Double, usage: StepUsage, now: Timestamp) {
        state = .done
        self.output = output
        finishedAt = now
        durationMilliseconds = milliseconds
        add(usage)
    }
}

extension ClaimedJob {
    /// The current step after a failed attempt, as every store records it: back to pending with the job due
    /// again at `retryAt` while attempts are left (`retry` is that time), else failed for good (`retry` nil).
    public func failedStep(error: String, usage: StepUsage, retryAt: Timestamp?, maxAttempts: Int, now: Timestamp) -> (step: StepRecord, retry: Timestamp?) {
        var step = steps[current]
        step.add(usage)
        step.error = error
        if let retryAt, step.attempts < maxAttempts {
            step.state = .pending
            return (step, retryAt)
        }
        step.state = .failed
        step.finishedAt = now
        return (step, nil)
    }
}

extension JobRecord {
    /// Queued again, due at `due`, with no lease and not finished.
    public mutating func requeue(at due: Timestamp, now: Timestamp) {
        state = .queued
        nextAttemptAt = due
        leaseOwner = nil
        leaseExpiresAt = nil
        finishedAt = nil
        updatedAt = now
    }

    /// Over, done or failed.
    public mutating func close(_ state: JobState, error: String?, now: Timestamp) {
        self.state = state
        lastError = error
        leaseOwner = nil
        leaseExpiresAt = nil
        finishedAt = now
        updatedAt = now
    }
}
