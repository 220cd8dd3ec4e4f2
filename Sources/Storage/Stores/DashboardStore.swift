import Foundation

/// What the admin dashboard reads and changes beyond the other stores: its sign-in links, the pipeline's pause
/// switch, the overview's counts, filtered job pages with bulk retry/cancel, costs, and users' last activity.
/// History comes from the tables the pipeline writes, so nothing is lost on restart.
public protocol DashboardStore: Sendable {
    /// Records a single-use sign-in link (only its SHA-256 is kept).
    func createSignInLink(hash: String, userID: Int64, expiresAt: Timestamp, now: Timestamp) async throws
    /// Uses the link once: the first caller before it expires gets its user, every later one `.used`.
    func useSignInLink(hash: String, now: Timestamp) async throws -> SignInLinkUse

    /// Workers claim nothing while paused (a batch run's own claims go on).
    func pipelinePaused() async throws -> Bool
    func setPipelinePaused(_ paused: Bool, by userID: Int64?, now: Timestamp) async throws

    func overview(now: Timestamp) async throws -> DashboardOverview
    /// One page of jobs matching `filter`, newest first, below `beforeID` (the cursor).
    func jobRows(_ filter: JobFilter, beforeID: Int64?, limit: Int) async throws -> [JobRow]
    func countJobs(_ filter: JobFilter) async throws -> Int
    /// Fails every queued or running job matching `filter` (a running one's worker can record nothing more:
    /// its lease token is raised). Returns how many.
    func cancelJobs(_ filter: JobFilter, reason: String, now: Timestamp) async throws -> Int
    /// Queues every failed job matching `filter` again, as `retryJob` does one. Returns how many.
    func retryJobs(_ filter: JobFilter, now: Timestamp) async throws -> Int

    func costs(since: Timestamp, now: Timestamp) async throws -> CostReport
    /// When each user last sent a document (their newest job).
    func lastActivity() async throws -> [Int64: Timestamp]
}

public enum SignInLinkUse: Sendable, Equatable {
    case valid(userID: Int64)
    case used
    case expired
    case unknown
}

/// Which jobs a dashboard page (or a bulk action) covers; every field narrows.
public struct JobFilter: Sendable, Equatable {
    public var state: JobState?
    public var origin: JobOrigin?
    /// The step the job is at (its first step not done): a queued, running or failed job's.
    public var step: String?
    public var userID: Int64?
    public var createdFrom: Timestamp?
    public var createdBefore: Timestamp?

    public init(state: JobState? = nil, origin: JobOrigin? = nil, step: String? = nil, userID: Int64? = nil, createdFrom: Timestamp? = nil,
                createdBefore: Timestamp? = nil) {
        self.state = state
        self.origin = origin
        self.step = step
        self.userID = userID
        self.createdFrom = createdFrom
        self.createdBefore = createdBefore
    }

    /// The same jobs in one state (bulk actions narrow a filter to what they can change).
    public func only(_ state: JobState) -> JobFilter {
        var narrowed = self
        narrowed.state = state
        return narrowed
    }
}

/// A job as the dashboard lists it.
public struct JobRow: Sendable, Equatable {
    public var job: JobRecord
    /// Its first step not done (nil when done).
    public var step: String?
    public var attempts: Int
    public var costUSD: Double

    public init(job: JobRecord, step: String?, attempts: Int, costUSD: Double) {
        self.job = job
        self.step = step
        self.attempts = attempts
        self.costUSD = costUSD
    }
}

/// Jobs waiting at (or running) one step.
public struct QueueDepth: Sendable, Equatable {
    public var step: String
    public var queued: Int
    public var running: Int

    public init(step: String, queued: Int, running: Int) {
        self.step = step
        self.queued = queued
        self.running = running
    }
}

public struct DashboardOverview: Sendable, Equatable {
    public var queue: [QueueDepth]
    /// Jobs created in each of the last 24 hours, oldest first (the last is the current hour).
    public var perHour: [Int]
    /// Jobs created on each of the last 30 UTC days, oldest first (the last is today).
    public var perDay: [Int]
    /// Jobs that ended in the last 24 hours, and how many of them failed.
    public var finishedLastDay: Int
    public var failedLastDay: Int
    public var spendTodayUSD: Double
    public var spendThisMonthUSD: Double
    public var undeliveredReplies: Int
    public var paused: Bool

    public init(queue: [QueueDepth], perHour: [Int], perDay: [Int], finishedLastDay: Int, failedLastDay: Int, spendTodayUSD: Double,
                spendThisMonthUSD: Double, undeliveredReplies: Int, paused: Bool) {
        self.queue = queue
        self.perHour = perHour
        self.perDay = perDay
        self.finishedLastDay = finishedLastDay
        self.failedLastDay = failedLastDay
        self.spendTodayUSD = spendTodayUSD
        self.spendThisMonthUSD = spendThisMonthUSD
        self.undeliveredReplies = undeliveredReplies
        self.paused = paused
    }
}

/// Spend in one slice (a day, a model, a user, an analyser).
public struct CostLine: Sendable, Equatable {
    public var label: String
    public var calls: Int
    public var inputTokens: Int
    public var outputTokens: Int
    public var costUSD: Double

    public init(label: String, calls: Int, inputTokens: Int, outputTokens: Int, costUSD: Double) {
        self.label = label
        self.calls = calls
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
    }
}

/// A document's spend over all its jobs' steps.
public struct DocumentCost: Sendable, Equatable {
    public var jobCode: String
    public var name: String
    public var costUSD: Double
    public var inputTokens: Int
    public var outputTokens: Int

    public init(jobCode: String, name: String, costUSD: Double, inputTokens: Int, outputTokens: Int) {
        self.jobCode = jobCode
        self.name = name
        self.costUSD = costUSD
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }
}

public struct CostReport: Sendable, Equatable {
    /// `YYYY-MM-DD` (UTC), oldest first.
    public var byDay: [CostLine]
    public var byModel: [CostLine]
    /// `user 123`, `token 4` or `reports` (summaries not tied to one requester).
    public var byUser: [CostLine]
    /// The step (`analyze`) or purpose (`report-summary`) that spent it.
    public var byAnalyser: [CostLine]
    public var topDocuments: [DocumentCost]

    public init(byDay: [CostLine], byModel: [CostLine], byUser: [CostLine], byAnalyser: [CostLine], topDocuments: [DocumentCost]) {
        self.byDay = byDay
        self.byModel = byModel
        self.byUser = byUser
        self.byAnalyser = byAnalyser
        self.topDocuments = topDocuments
    }
}

extension DashboardStore {
    public func useSignInLink(hash: String) async throws -> SignInLinkUse {
        try await useSignInLink(hash: hash, now: .now)
    }
}

/// Day and hour buckets counted back from `now` (shared by the stores so both cut time the same way).
public enum DashboardBuckets {
    public static let hours = 24
    public static let days = 30

    /// Midnight UTC of the day `time` is in.
    public static func startOfDay(_ time: Timestamp) -> Timestamp {
        (time / 86400).rounded(.down) * 86400
    }

    /// The start of the oldest hour bucket: the current hour, 23 hours back.
    public static func hourStart(now: Timestamp) -> Timestamp {
        (now / 3600).rounded(.down) * 3600 - Double(hours - 1) * 3600
    }

    /// The start of the oldest day bucket: today (UTC), 29 days back.
    public static func dayStart(now: Timestamp) -> Timestamp {
        startOfDay(now) - Double(days - 1) * 86400
    }

    public static func monthStart(now: Timestamp) -> Timestamp {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = Date(timeIntervalSince1970: now)
        let start = calendar.date(from: calendar.dateComponents([.year, .month], from: date)) ?? date
        return start.timeIntervalSince1970
    }

    /// Counts by bucket index into a full array (missing buckets are 0).
    public static func fill(_ counts: [(Int, Int)], size: Int) -> [Int] {
        var filled = Array(repeating: 0, count: size)
        for (index, count) in counts where (0..<size).contains(index) { filled[index] = count }
        return filled
    }
}
