import Foundation

/// What the pipeline needs of the job table: the durable queue its workers claim from.
///
/// - **Claim.** `claimNextJob` hands a due job (or one whose lease ran out) to exactly one owner, with a lease
///   until `now + leaseSeconds`, and begins its first unfinished step — atomically: two workers calling it at
///   the same time never get the same job. (The SQLite store reads then updates inside one write transaction,
///   which SQLite serialises; a store whose writers run in parallel must lock the row it claims.)
/// - **Lease.** While the lease holds, only its owner may record anything for the job: `finishStep`, `failStep`
///   and `releaseJob` throw `StorageError.leaseLost` for anyone else. The owner renews it (`renewLease`) while a
///   step runs; once it has run out, another worker may claim the job and its step runs again from the start,
///   so every step must be safe to run twice.
/// - **Steps.** Each job has its steps in order; a step's output is stored when it finishes, in the same
///   transaction that begins the next one, so a crash never loses a finished step or skips an unfinished one.
public protocol JobQueue: Sendable {
    /// Creates a job with its steps pending, or returns the job that already exists for the same `sourceKey`,
    /// or for the same document in the same group (`created` false).
    func enqueue(documentSHA256: String, request: JobRequest, steps: [String], now: Timestamp) async throws -> (job: JobRecord, created: Bool)
    /// Many documents and their jobs in one transaction (a batch folder).
    func enqueue(_ items: [(document: DocumentRecord, request: JobRequest)], steps: [String], now: Timestamp) async throws
        -> [(job: JobRecord, created: Bool)]
    func claimNextJob(owner: String, leaseSeconds: Double, groupID: Int64?, now: Timestamp) async throws -> ClaimedJob?
    /// Stores the step's output (and, when the step read the document, its text for reuse and search), then
    /// begins the next step; nil when that was the last one and the job is done.
    func finishStep(_ claimed: ClaimedJob, output: Data, usage: StepUsage, milliseconds: Double, outcome: StepRunOutcome,
                    documentText: DocumentText?, now: Timestamp) async throws -> ClaimedJob?
    /// Queues the job again for `retryAt` while attempts are left, else fails step and job; returns the job's state.
    func failStep(_ claimed: ClaimedJob, error: String, retryAt: Timestamp?, maxAttempts: Int, usage: StepUsage, now: Timestamp) async throws -> JobState
    /// Hands the job back unfinished, due again at `due`; the attempt does not count. At shutdown (due now, no
    /// reason), or when something of ours the step needs is down (`reason` becomes the job's last error).
    func releaseJob(_ claimed: ClaimedJob, until due: Timestamp, reason: String?, now: Timestamp) async throws
    /// False when the lease was lost to another worker.
    func renewLease(jobID: Int64, owner: String, leaseSeconds: Double, now: Timestamp) async throws -> Bool
    /// Ends the leases of owners known to be dead, so their jobs are taken over now.
    func expireLeases(ofDeadOwners isAlive: @escaping @Sendable (String) -> Bool, now: Timestamp) async throws -> Int
    /// Whether any job (of the group) is unfinished for a reason other than the `ignoring` (deferrable) steps:
    /// a batch run ends when none is. A yes/no, so a store can stop at the first such job instead of counting.
    func hasUnfinishedJobs(groupID: Int64?, ignoring: Set<String>) async throws -> Bool
    /// When a worker with nothing to do should look again.
    func nextDueTime(groupID: Int64?) async throws -> Timestamp?
    /// Makes a group's waiting jobs due now.
    func expediteQueuedJobs(groupID: Int64, now: Timestamp) async throws
    func jobCounts(groupID: Int64?) async throws -> [JobState: Int]
    /// Puts a failed job back in the queue.
    func retryJob(code: String, now: Timestamp) async throws -> JobRecord
    /// Whether `waitForWork` returns when a job is queued (PostgreSQL's `LISTEN`); idle workers then look
    /// at the table rarely instead of every `pollInterval`.
    var announcesWork: Bool { get }
    /// A token to take before looking for work; `waitForWork(after:)` with it returns at once if work was
    /// announced since.
    func workMark() -> UInt64
    /// Waits until work is announced after `mark`, or `seconds` pass, whichever comes first.
    func waitForWork(after mark: UInt64, upTo seconds: Double) async throws
}

/// The step-run audit: every execution of every step, to show after crashes and takeovers that each step
/// completed exactly once.
public protocol StepAudit: Sendable {
    /// Every execution of a job's steps, oldest first.
    func stepRuns(jobID: Int64) async throws -> [StepRunRecord]
    /// Completed executions per job of one plugin (a step that ran twice counts twice).
    func completedRunCounts(plugin: String) async throws -> [Int64: Int]
}

/// A document's text as the OCR step read it, kept with the document for reuse and full-text search.
public struct DocumentText: Sendable, Equatable {
    public var text: String
    /// The full `OCRResult` JSON.
    public var result: Data
    public var pages: Int

    public init(text: String, result: Data, pages: Int) {
        self.text = text
        self.result = result
        self.pages = pages
    }
}

extension JobQueue {
    /// A store that announces nothing: workers poll.
    public var announcesWork: Bool { false }
    public func workMark() -> UInt64 { 0 }
    public func waitForWork(after mark: UInt64, upTo seconds: Double) async throws {
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
    }

    public func enqueue(documentSHA256: String, request: JobRequest, steps: [String]) async throws -> (job: JobRecord, created: Bool) {
        try await enqueue(documentSHA256: documentSHA256, request: request, steps: steps, now: .now)
    }

    public func enqueue(_ items: [(document: DocumentRecord, request: JobRequest)], steps: [String]) async throws -> [(job: JobRecord, created: Bool)] {
        try await enqueue(items, steps: steps, now: .now)
    }

    public func claimNextJob(owner: String, leaseSeconds: Double, groupID: Int64? = nil) async throws -> ClaimedJob? {
        try await claimNextJob(owner: owner, leaseSeconds: leaseSeconds, groupID: groupID, now: .now)
    }

    public func finishStep(_ claimed: ClaimedJob, output: Data, usage: StepUsage = StepUsage(), milliseconds: Double,
                           outcome: StepRunOutcome = .done, documentText: DocumentText? = nil) async throws -> ClaimedJob? {
        try await finishStep(claimed, output: output, usage: usage, milliseconds: milliseconds, outcome: outcome, documentText: documentText, now: .now)
    }

    public func failStep(_ claimed: ClaimedJob, error: String, retryAt: Timestamp?, maxAttempts: Int, usage: StepUsage = StepUsage()) async throws -> JobState {
        try await failStep(claimed, error: error, retryAt: retryAt, maxAttempts: maxAttempts, usage: usage, now: .now)
    }

    public func releaseJob(_ claimed: ClaimedJob, until due: Timestamp = .now, reason: String? = nil) async throws {
        try await releaseJob(claimed, until: due, reason: reason, now: .now)
    }


    public func renewLease(jobID: Int64, owner: String, leaseSeconds: Double) async throws -> Bool {
        try await renewLease(jobID: jobID, owner: owner, leaseSeconds: leaseSeconds, now: .now)
    }

    public func expireLeases(ofDeadOwners isAlive: @escaping @Sendable (String) -> Bool) async throws -> Int {
        try await expireLeases(ofDeadOwners: isAlive, now: .now)
    }

    public func expediteQueuedJobs(groupID: Int64) async throws {
        try await expediteQueuedJobs(groupID: groupID, now: .now)
    }

    /// Over all jobs.
    public func jobCounts() async throws -> [JobState: Int] {
        try await jobCounts(groupID: nil)
    }

    public func retryJob(code: String) async throws -> JobRecord {
        try await retryJob(code: code, now: .now)
    }
}

/// Where a store keeps its state and what schema it has, for `doctor` and logs.
public protocol StoreSchema: Sendable {
    /// The file, or the server and database (never a password).
    var location: String { get }
    /// Names of the migrations applied, oldest first.
    func migrationNames() async throws -> [String]
    /// Closes connections; the store cannot be used after.
    func close() async
}

/// Everything the gateway keeps, as one store implements it (SQLite's `AppDatabase`, or PostgreSQL's).
public typealias GatewayStore = JobQueue & DocumentStore & UpdateInbox & ReplyOutbox & Whitelist & UsageLedger & StepAudit & APIStore
    & CallbackOutbox & DashboardStore & ChatSettingsStore & PageSetStore & StoreSchema
