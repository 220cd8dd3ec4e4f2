import Foundation
import GRDB

public enum StepState: String, Codable, Sendable, DatabaseValueConvertible {
    case pending, running, done, failed
}

/// One plugin's work on one job; its output is kept so a restarted job resumes after it.
public struct StepRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "step"

    public var id: Int64?
    public var jobID: Int64
    public var position: Int
    public var plugin: String
    public var state: StepState
    public var attempts: Int
    public var output: Data?
    public var error: String?
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp?
    public var durationMilliseconds: Double?
    public var inputTokens: Int
    public var outputTokens: Int
    public var costUSD: Double
    public var model: String?

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    public enum Columns {
        public static let jobID = Column(CodingKeys.jobID)
        public static let plugin = Column(CodingKeys.plugin)
        public static let position = Column(CodingKeys.position)
        public static let state = Column(CodingKeys.state)
    }

    /// Every column, as a store reads it back.
    public init(id: Int64?, jobID: Int64, position: Int, plugin: String, state: StepState, attempts: Int, output: Data?,
                error: String?, startedAt: Timestamp?, finishedAt: Timestamp?, durationMilliseconds: Double?, inputTokens: Int,
                outputTokens: Int, costUSD: Double, model: String?) {
        self.id = id
        self.jobID = jobID
        self.position = position
        self.plugin = plugin
        self.state = state
        self.attempts = attempts
        self.output = output
        self.error = error
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMilliseconds = durationMilliseconds
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
        self.model = model
    }
}

extension StepRecord {
    public init(row: Row) throws {
        id = row["id"]
        jobID = row["jobID"]
        position = row["position"]
        plugin = row["plugin"]
        state = row["state"]
        attempts = row["attempts"]
        output = row["output"]
        error = row["error"]
        startedAt = row["startedAt"]
        finishedAt = row["finishedAt"]
        durationMilliseconds = row["durationMilliseconds"]
        inputTokens = row["inputTokens"]
        outputTokens = row["outputTokens"]
        costUSD = row["costUSD"]
        model = row["model"]
    }
}

public enum StepRunOutcome: String, Codable, Sendable, DatabaseValueConvertible {
    /// Started and not (yet) finished: the worker is running it or died.
    case running
    case done
    /// Finished from an earlier result (the same document was read before).
    case reused
    case retry
    case failed
    /// The worker died and another reclaimed the job.
    case abandoned
    /// Handed back at shutdown, to run again later.
    case released
}

extension StepRecord {
    /// Adds the usage of one more run of the step (a retry's calls count too).
    public mutating func add(_ usage: StepUsage) {
        inputTokens += usage.inputTokens
        outputTokens += usage.outputTokens
        costUSD += usage.costUSD
        model = usage.model ?? model
    }
}

/// One execution of a step: the audit trail that shows a step ran exactly once.
public struct StepRunRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "stepRun"

    public var id: Int64?
    public var jobID: Int64
    public var plugin: String
    public var attempt: Int
    public var owner: String
    public var outcome: StepRunOutcome
    public var startedAt: Timestamp
    public var finishedAt: Timestamp?

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    /// Every column, as a store reads it back.
    public init(id: Int64?, jobID: Int64, plugin: String, attempt: Int, owner: String, outcome: StepRunOutcome,
                startedAt: Timestamp, finishedAt: Timestamp?) {
        self.id = id
        self.jobID = jobID
        self.plugin = plugin
        self.attempt = attempt
        self.owner = owner
        self.outcome = outcome
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// Token usage and estimated cost of the LLM calls a step made.
public struct StepUsage: Sendable, Equatable, Codable {
    public var model: String?
    public var inputTokens: Int
    public var outputTokens: Int
    public var costUSD: Double

    public init(model: String? = nil, inputTokens: Int = 0, outputTokens: Int = 0, costUSD: Double = 0) {
        self.model = model
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
    }

    public static func + (lhs: StepUsage, rhs: StepUsage) -> StepUsage {
        StepUsage(model: rhs.model ?? lhs.model, inputTokens: lhs.inputTokens + rhs.inputTokens,
                  outputTokens: lhs.outputTokens + rhs.outputTokens, costUSD: lhs.costUSD + rhs.costUSD)
    }
}
