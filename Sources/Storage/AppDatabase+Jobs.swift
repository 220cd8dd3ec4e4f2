import Foundation
import GRDB

/// The `JobQueue`.
extension AppDatabase: JobQueue, StepAudit {
    // MARK: Enqueueing

    /// Creates a job for a stored document with its steps pending. Within a group a document has one job:
    /// enqueueing it again returns the existing job (`created` false) — that is how a batch resumes.
    public func enqueue(documentSHA256: String, request: JobRequest, steps: [String], now: Timestamp = .now) async throws -> (job: JobRecord, created: Bool) {
        try await write { db in try Self.enqueue(db, documentSHA256: documentSHA256, request: request, steps: steps, now: now) }
    }

    /// Many documents in one transaction (a batch folder): one commit instead of one per file.
    public func enqueue(_ items: [(document: DocumentRecord, request: JobRequest)], steps: [String], now: Timestamp = .now) async throws -> [(job: JobRecord, created: Bool)] {
        try await write { db in
            try items.map { item in
                try Self.insertIfNew(db, item.document)
                return try Self.enqueue(db, documentSHA256: item.document.sha256, request: item.request, steps: steps, now: now)
            }
        }
    }

    static func insertIfNew(_ db: Database, _ document: DocumentRecord) throws {
        try db.cachedStatement(sql: """
            INSERT INTO document (sha256, format, mimeType, size, blobPath, originalName, pages, ocrText, ocrResult, createdAt)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING
            """).execute(arguments: [document.sha256, document.format, document.mimeType, document.size, document.blobPath,
                                     document.originalName, document.pages, document.ocrText, document.ocrResult, document.createdAt])
    }

    /// Cached statements throughout: a folder of 10,000 files runs this 10,000 times.
    static func enqueue(_ db: Database, documentSHA256: String, request: JobRequest, steps: [String], now: Timestamp) throws -> (job: JobRecord, created: Bool) {
        if let sourceKey = request.sourceKey,
           let existing = try JobRecord.fetchOne(db.cachedStatement(sql: "SELECT * FROM job WHERE sourceKey = ?"), arguments: [sourceKey]) {
            return (existing, false)
        }
        if let groupID = request.groupID,
           let existing = try JobRecord.fetchOne(db.cachedStatement(sql: "SELECT * FROM job WHERE groupID = ? AND documentSHA256 = ?"),
                                                 arguments: [groupID, documentSHA256]) {
            return (existing, false)
        }
        var job = JobRecord(id: nil, code: try uniqueCode(db), documentSHA256: documentSHA256, request: request, now: now)
        try db.cachedStatement(sql: """
            INSERT INTO job (code, documentSHA256, origin, sourceName, groupID, chatID, userID, messageID, languageCode,
                             state, nextAttemptAt, createdAt, updatedAt, sourceKey, tokenID, callbackURL)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [job.code, documentSHA256, request.origin, request.sourceName, request.groupID, request.chatID,
                                     request.userID, request.messageID, request.languageCode, now, now, now, request.sourceKey,
                                     request.tokenID, request.callbackURL])
        job.id = db.lastInsertedRowID
        if let tokenID = request.tokenID {
            try db.cachedStatement(sql: """
                INSERT INTO apiUsage (tokenID, day, documents) VALUES (?, ?, 1)
                ON CONFLICT (tokenID, day) DO UPDATE SET documents = documents + 1
                """).execute(arguments: [tokenID, APIUsage.day(of: now)])
        }
        let insertStep = try db.cachedStatement(sql: "INSERT INTO step (jobID, position, plugin, state) VALUES (?, ?, ?, 'pending')")
        for (position, plugin) in steps.enumerated() {
            try insertStep.execute(arguments: [job.id, position, plugin])
        }
        return (job, true)
    }

    private static func uniqueCode(_ db: Database) throws -> String {
        let taken = try db.cachedStatement(sql: "SELECT 1 FROM job WHERE code = ?")
        while true {
            let code = JobCode.random()
            if try Int.fetchOne(taken, arguments: [code]) == nil { return code }
        }
    }

    // MARK: Running

    /// Takes the next due job (or one whose worker's lease expired), leases it to `owner` and begins
    /// its first unfinished step — one transaction, so two workers never run the same step.
    public func claimNextJob(owner: String, leaseSeconds: Double, groupID: Int64? = nil, now: Timestamp = .now) async throws -> ClaimedJob? {
        try await write { db in
            // Two indexed lookups rather than one OR (which made SQLite scan and sort the table). Running jobs
            // are few (one per worker), so the lease needs no index. Cached statements: this is the hot path.
            // Paused from the dashboard: the gateway's workers wait; a batch run (its own group) goes on.
            if groupID == nil, try Bool.fetchOne(db.cachedStatement(sql: "SELECT paused FROM pipelineControl WHERE id = 1")) == true { return nil }
            let scope = groupID == nil ? "" : " AND groupID = ?"
            var arguments: StatementArguments = [now]
            if let groupID { arguments += [groupID] }
            let expired = try JobRecord.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM job WHERE state = 'running' AND leaseExpiresAt < ?" + scope + " LIMIT 1"), arguments: arguments)
            let due = try expired == nil
                ? JobRecord.fetchOne(db.cachedStatement(sql: "SELECT * FROM job WHERE state = 'queued' AND nextAttemptAt <= ?" + scope
                                                            + " ORDER BY nextAttemptAt, id LIMIT 1"), arguments: arguments)
                : nil
            guard var job = expired ?? due, let jobID = job.id else { return nil }
            let reclaimed = job.state == .running
            if reclaimed {
                // The previous worker died mid-step: its run is over, the step starts again.
                try db.execute(sql: "UPDATE stepRun SET outcome = ?, finishedAt = ? WHERE jobID = ? AND outcome = ?",
                               arguments: [StepRunOutcome.abandoned, now, jobID, StepRunOutcome.running])
                try db.execute(sql: "UPDATE step SET state = ? WHERE jobID = ? AND state = ?",
                               arguments: [StepState.pending, jobID, StepState.running])
            }
            job.state = .running
            job.leaseOwner = owner
            job.leaseExpiresAt = now + leaseSeconds
            job.leaseToken += 1
            job.updatedAt = now
            try db.cachedStatement(sql: "UPDATE job SET state = 'running', leaseOwner = ?, leaseExpiresAt = ?, leaseToken = ?, updatedAt = ? WHERE id = ?")
                .execute(arguments: [owner, job.leaseExpiresAt, job.leaseToken, now, jobID])
            // With its text when it was read before: the OCR step reuses it instead of reading again.
            guard let document = try DocumentRecord.fetchOne(db.cachedStatement(sql: "SELECT * FROM document WHERE sha256 = ?"),
                                                             arguments: [job.documentSHA256]) else {
                throw StorageError.notFound("document \(job.documentSHA256) of job \(job.code)")
            }
            var steps = try StepRecord.fetchAll(db.cachedStatement(sql: "SELECT * FROM step WHERE jobID = ? ORDER BY position"), arguments: [jobID])
            guard let current = steps.firstIndex(where: { $0.state != .done }) else {
                // Every step done but the job not closed (crash between the two): close it now.
                try Self.closeJob(db, &job, state: .done, error: nil, now: now)
                return nil
            }
            try Self.begin(db, &steps[current], owner: owner, now: now)
            return ClaimedJob(job: job, document: document, steps: steps, current: current, reclaimed: reclaimed)
        }
    }

    private static func begin(_ db: Database, _ step: inout StepRecord, owner: String, now: Timestamp) throws {
        step.begin(now: now)
        try db.cachedStatement(sql: "UPDATE step SET state = 'running', attempts = ?, startedAt = ?, error = NULL WHERE id = ?")
            .execute(arguments: [step.attempts, now, step.id])
        try db.cachedStatement(sql: "INSERT INTO stepRun (jobID, plugin, attempt, owner, outcome, startedAt) VALUES (?, ?, ?, ?, 'running', ?)")
            .execute(arguments: [step.jobID, step.plugin, step.attempts, owner, now])
    }

    /// Stores a step's result (and the document's text, when the step read it) and begins the next step, or
    /// closes the job after the last one. Returns the job claimed for its next step, or nil when the job is done.
    public func finishStep(_ claimed: ClaimedJob, output: Data, usage: StepUsage = StepUsage(), milliseconds: Double,
                           outcome: StepRunOutcome = .done, documentText: DocumentText? = nil, now: Timestamp = .now) async throws -> ClaimedJob? {
        try await write { db in
            var claimed = claimed
            try Self.checkLease(db, claimed)
            if let documentText {
                try db.execute(sql: "UPDATE document SET ocrText = ?, ocrResult = ?, pages = ? WHERE sha256 = ?",
                               arguments: [documentText.text, documentText.result, documentText.pages, claimed.document.sha256])
                claimed.keep(documentText)
            }
            var step = claimed.steps[claimed.current]
            step.finish(output: output, milliseconds: milliseconds, usage: usage, now: now)
            try db.cachedStatement(sql: """
                UPDATE step SET state = 'done', output = ?, finishedAt = ?, durationMilliseconds = ?,
                    inputTokens = ?, outputTokens = ?, costUSD = ?, model = ? WHERE id = ?
                """).execute(arguments: [output, now, milliseconds, step.inputTokens, step.outputTokens, step.costUSD, step.model, step.id])
            try Self.finishRun(db, jobID: claimed.jobID, plugin: step.plugin, outcome: outcome, now: now)
            claimed.steps[claimed.current] = step
            if let next = claimed.steps.indices.first(where: { $0 > claimed.current && claimed.steps[$0].state != .done }) {
                try Self.begin(db, &claimed.steps[next], owner: claimed.job.leaseOwner ?? "", now: now)
                claimed.current = next
                return claimed
            }
            try Self.closeJob(db, &claimed.job, state: .done, error: nil, now: now)
            return nil
        }
    }

    /// Records a failed step. With `retryAt` and attempts left the job is queued again for then;
    /// otherwise the step and the job fail with `error`. Returns the job's new state.
    public func failStep(_ claimed: ClaimedJob, error: String, retryAt: Timestamp?, maxAttempts: Int,
                         usage: StepUsage = StepUsage(), now: Timestamp = .now) async throws -> JobState {
        try await write { db in
            try Self.checkLease(db, claimed)
            let (step, retry) = claimed.failedStep(error: error, usage: usage, retryAt: retryAt, maxAttempts: maxAttempts, now: now)
            try step.update(db)
            try Self.finishRun(db, jobID: claimed.jobID, plugin: step.plugin, outcome: retry == nil ? .failed : .retry, now: now)
            var job = claimed.job
            guard let retry else {
                try Self.closeJob(db, &job, state: .failed, error: error, now: now)
                return .failed
            }
            job.requeue(at: retry, now: now)
            job.lastError = error
            try job.update(db)
            return .queued
        }
    }

    /// Hands a job back unfinished, due at `due`: its step runs again then and the attempt is not counted.
    public func releaseJob(_ claimed: ClaimedJob, until due: Timestamp, reason: String?, now: Timestamp) async throws {
        try await write { db in
            try Self.checkLease(db, claimed)
            var step = claimed.steps[claimed.current]
            step.state = .pending
            step.attempts = max(0, step.attempts - 1)
            try step.update(db)
            try Self.finishRun(db, jobID: claimed.jobID, plugin: step.plugin, outcome: .released, now: now)
            var job = claimed.job
            job.requeue(at: max(due, now), now: now)
            if let reason { job.lastError = reason }
            try job.update(db)
        }
    }

    /// Ends the leases of workers that are known to be dead (a killed process on this host), so their jobs
    /// are taken over now instead of when the lease would have run out.
    public func expireLeases(ofDeadOwners isAlive: @escaping @Sendable (String) -> Bool, now: Timestamp = .now) async throws -> Int {
        try await write { db in
            let owners = try String.fetchAll(db, sql: "SELECT DISTINCT leaseOwner FROM job WHERE state = ? AND leaseOwner IS NOT NULL",
                                             arguments: [JobState.running])
            var expired = 0
            for owner in owners where !isAlive(owner) {
                try db.execute(sql: "UPDATE job SET leaseExpiresAt = ? WHERE state = ? AND leaseOwner = ?",
                               arguments: [now - 1, JobState.running, owner])
                expired += db.changesCount
            }
            return expired
        }
    }

    /// Extends a running job's lease; false when another worker has taken it over.
    public func renewLease(jobID: Int64, owner: String, leaseSeconds: Double, now: Timestamp = .now) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE job SET leaseExpiresAt = ? WHERE id = ? AND leaseOwner = ? AND state = ?",
                           arguments: [now + leaseSeconds, jobID, owner, JobState.running])
            return db.changesCount == 1
        }
    }

    private static func checkLease(_ db: Database, _ claimed: ClaimedJob) throws {
        let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT leaseOwner, leaseToken FROM job WHERE id = ? AND state = 'running'"),
                                   arguments: [claimed.jobID])
        guard let row, row["leaseOwner"] as String? == claimed.job.leaseOwner, row["leaseToken"] as Int64 == claimed.job.leaseToken else {
            throw StorageError.leaseLost(jobID: claimed.jobID)
        }
    }

    private static func finishRun(_ db: Database, jobID: Int64, plugin: String, outcome: StepRunOutcome, now: Timestamp) throws {
        try db.cachedStatement(sql: "UPDATE stepRun SET outcome = ?, finishedAt = ? WHERE jobID = ? AND plugin = ? AND outcome = 'running'")
            .execute(arguments: [outcome, now, jobID, plugin])
    }

    private static func closeJob(_ db: Database, _ job: inout JobRecord, state: JobState, error: String?, now: Timestamp) throws {
        job.close(state, error: error, now: now)
        try db.cachedStatement(sql: """
            UPDATE job SET state = ?, lastError = ?, leaseOwner = NULL, leaseExpiresAt = NULL, finishedAt = ?, updatedAt = ? WHERE id = ?
            """).execute(arguments: [state, error, now, now, job.id])
    }

    // MARK: Admin

    /// Puts a failed job back in the queue; its failed step starts again with fresh attempts.
    public func retryJob(code: String, now: Timestamp = .now) async throws -> JobRecord {
        let code = JobCode.normalized(code)
        return try await write { db in
            guard let job = try JobRecord.filter(JobRecord.Columns.code == code).fetchOne(db) else { throw StorageError.notFound("job \(code)") }
            guard job.state == .failed, let jobID = job.id else {
                throw StorageError.invalid("job \(code) is \(job.state.rawValue), only failed jobs can be retried")
            }
            try Self.requeueFailed(db, jobID: jobID, now: now)
            return try JobRecord.fetchOne(db, key: jobID) ?? job
        }
    }

    /// A failed job back in the queue: its failed step starts again with fresh attempts, its callback is due again.
    static func requeueFailed(_ db: Database, jobID: Int64, now: Timestamp) throws {
        try db.execute(sql: "UPDATE step SET state = ?, attempts = 0, error = NULL WHERE jobID = ? AND state = ?",
                       arguments: [StepState.pending, jobID, StepState.failed])
        guard var job = try JobRecord.fetchOne(db, key: jobID) else { return }
        job.requeue(at: now, now: now)
        job.lastError = nil
        try job.update(db)
        try db.execute(sql: "UPDATE job SET callbackQueuedAt = NULL WHERE id = ?", arguments: [jobID])
    }

    public func jobCounts(groupID: Int64? = nil) async throws -> [JobState: Int] {
        try await read { db in
            var sql = "SELECT state, COUNT(*) FROM job"
            var arguments: StatementArguments = []
            if let groupID {
                sql += " WHERE groupID = ?"
                arguments = [groupID]
            }
            sql += " GROUP BY state"
            var counts: [JobState: Int] = [:]
            for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
                if let state = JobState(rawValue: row[0]) { counts[state] = row[1] }
            }
            return counts
        }
    }

    /// Every execution of a job's steps, oldest first.
    public func stepRuns(jobID: Int64) async throws -> [StepRunRecord] {
        try await read { db in
            try StepRunRecord.filter(Column("jobID") == jobID).order(Column("id")).fetchAll(db)
        }
    }

    /// Completed executions per plugin across all jobs (a step that ran twice counts twice).
    public func completedRunCounts(plugin: String) async throws -> [Int64: Int] {
        try await read { db in
            var counts: [Int64: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT jobID, COUNT(*) FROM stepRun WHERE plugin = ? AND outcome IN (?, ?) GROUP BY jobID",
                                        arguments: [plugin, StepRunOutcome.done, StepRunOutcome.reused]) {
                counts[row[0]] = row[1]
            }
            return counts
        }
    }

    /// Makes a group's waiting jobs due now (a batch run again after an outage retries at once).
    public func expediteQueuedJobs(groupID: Int64, now: Timestamp = .now) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE job SET nextAttemptAt = ? WHERE groupID = ? AND state = 'queued' AND nextAttemptAt > ?",
                           arguments: [now, groupID, now])
        }
    }

    /// Whether a job (of a group) is unfinished for a reason other than the `ignoring` steps: a job whose only
    /// unfinished steps are deferrable (archiving) does not count.
    public func hasUnfinishedJobs(groupID: Int64? = nil, ignoring: Set<String> = []) async throws -> Bool {
        try await read { db in
            var sql = """
                SELECT EXISTS (SELECT 1 FROM job WHERE state IN ('queued', 'running')
                  AND EXISTS (SELECT 1 FROM step WHERE step.jobID = job.id AND step.state != 'done'
                """
            var arguments: StatementArguments = []
            if !ignoring.isEmpty {
                sql += " AND step.plugin NOT IN (\(ignoring.map { _ in "?" }.joined(separator: ", ")))"
                arguments += StatementArguments(ignoring.sorted())
            }
            sql += ")"
            if let groupID {
                sql += " AND groupID = ?"
                arguments += [groupID]
            }
            sql += ")"
            return try Bool.fetchOne(db, sql: sql, arguments: arguments) ?? false
        }
    }

    /// The earliest time a queued job becomes due, for a worker deciding how long to sleep.
    public func nextDueTime(groupID: Int64? = nil) async throws -> Timestamp? {
        try await read { db in
            var sql = "SELECT MIN(nextAttemptAt) FROM job WHERE state = 'queued'"
            var arguments: StatementArguments = []
            if let groupID {
                sql += " AND groupID = ?"
                arguments = [groupID]
            }
            let queued = try Double.fetchOne(db, sql: sql, arguments: arguments)
            var leaseSQL = "SELECT MIN(leaseExpiresAt) FROM job WHERE state = 'running'"
            if groupID != nil { leaseSQL += " AND groupID = ?" }
            let lease = try Double.fetchOne(db, sql: leaseSQL, arguments: arguments)
            return [queued, lease].compactMap { $0 }.min()
        }
    }
}
