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
