import Foundation
import NIOCore
import PostgresNIO
import Storage

/// The `JobQueue` on PostgreSQL. Workers on any number of machines claim with `FOR UPDATE SKIP LOCKED`: a
/// claim never waits on another worker's claim and never takes a row another transaction holds. Every write
/// for a claimed job first locks the job's row and checks the lease's owner and fencing token.
extension PostgresDatabase: JobQueue, StepAudit {
    static let documentColumns = "sha256, format, mime_type, size, blob_path, original_name, pages, ocr_text, ocr_result, created_at"

    // MARK: Enqueueing

    public func enqueue(documentSHA256: String, request: JobRequest, steps: [String], now: Timestamp) async throws -> (job: JobRecord, created: Bool) {
        let result = try await transaction { connection in
            let result = try await Self.enqueue(connection, documentSHA256: documentSHA256, request: request, steps: steps, now: now, logger: self.logger)
            if result.created { try await Self.announceWork(connection, logger: self.logger) }
            return result
        }
        if result.created { await refreshStatisticsIfGrown(by: 1) }
        return result
    }

    public func enqueue(_ items: [(document: DocumentRecord, request: JobRequest)], steps: [String], now: Timestamp) async throws
        -> [(job: JobRecord, created: Bool)] {
        let items = items.map { Item(document: $0.document, request: $0.request) }
        let enqueued = try await transaction { connection in
            var results: [(job: JobRecord, created: Bool)] = []
            for item in items {
                try await Self.insertIfNew(connection, item.document, logger: self.logger)
                results.append(try await Self.enqueue(connection, documentSHA256: item.document.sha256, request: item.request, steps: steps,
                                                      now: now, logger: self.logger))
            }
            if results.contains(where: \.created) { try await Self.announceWork(connection, logger: self.logger) }
            return results
        }
        await refreshStatisticsIfGrown(by: enqueued.filter(\.created).count)
        return enqueued
    }

    /// Refreshes the planner's statistics of the queue's tables once the jobs enqueued since the last refresh
    /// reach a tenth of the table (at least 1,000). A folder enqueued at once and read straight after is planned
    /// on statistics from before it (autovacuum looks once a minute): on a fresh table that cost PostgreSQL 0.38–0.55 ms
    /// of CPU per job against 0.24–0.32 ms with them refreshed, and a claim's p99 rose from ~30 to 43–62 ms
    /// (`botgateway-bench pipeline --store postgres`, 2 × 64 loops). `ANALYZE` reads a sample of bounded size,
    /// ~0.1 s here, awaited by the enqueue that crossed the threshold. A role that does not own the tables gets
    /// PostgreSQL's warning and no error; a failed refresh (the server gone) is tried again at the next threshold.
    func refreshStatisticsIfGrown(by created: Int) async {
        let due = statistics.withLock { state -> Bool in
            state.sinceRefresh += created
            guard state.sinceRefresh >= state.threshold, !state.refreshing else { return false }
            state.refreshing = true
            state.sinceRefresh = 0
            return true
        }
        guard due else { return }
        var threshold = statistics.withLock(\.threshold)
        do {
            try await execute("ANALYZE job, step, document")
            let rows = try await connection { connection in
                try await connection.query("SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = 'job'::regclass", logger: self.logger)
                    .first()?.value("rows", as: Double.self) ?? 0
            }
            threshold = max(QueueStatistics.minimumThreshold, Int(rows / 10))
        } catch {
            logger.notice("could not refresh the job tables' statistics; autovacuum keeps them meanwhile", metadata: ["error": "\(error)"])
        }
        statistics.withLock { state in
            state.threshold = threshold
            state.refreshing = false
        }
    }

    private struct Item: Sendable {
        var document: DocumentRecord
        var request: JobRequest
    }

    static func insertIfNew(_ connection: PostgresConnection, _ document: DocumentRecord, logger: Logger) async throws {
        try await connection.query("""
            INSERT INTO document (sha256, format, mime_type, size, blob_path, original_name, pages, ocr_text, ocr_result, created_at)
            VALUES (\(document.sha256), \(document.format), \(document.mimeType), \(document.size), \(document.blobPath),
                    \(document.originalName), \(document.pages), \(document.ocrText), \(document.ocrResult), \(document.createdAt))
            ON CONFLICT (sha256) DO NOTHING
            """, logger: logger)
    }

    /// The existing job for the request's source key, or for the document in its group; else a new one with
    /// its steps. A racing insert of the same key waits for the other transaction and then finds its job.
    static func enqueue(_ connection: PostgresConnection, documentSHA256: String, request: JobRequest, steps: [String], now: Timestamp,
                        logger: Logger) async throws -> (job: JobRecord, created: Bool) {
        for _ in 0..<8 {
            if let existing = try await existingJob(connection, documentSHA256: documentSHA256, request: request, logger: logger) {
                return (existing, false)
            }
            let inserted = try await connection.query("""
                INSERT INTO job (code, document_sha256, origin, source_name, group_id, chat_id, user_id, message_id, language_code,
                                 state, next_attempt_at, created_at, updated_at, source_key, token_id, callback_url)
                VALUES (\(JobCode.random()), \(documentSHA256), \(request.origin.rawValue), \(request.sourceName), \(request.groupID),
                        \(request.chatID), \(request.userID), \(request.messageID), \(request.languageCode), 'queued', \(now), \(now), \(now),
                        \(request.sourceKey), \(request.tokenID), \(request.callbackURL))
                ON CONFLICT DO NOTHING RETURNING *
                """, logger: logger).first()
            // Nothing inserted: the same key or document arrived meanwhile (found above next time), or the code was taken.
            guard let row = inserted else { continue }
            let job = try row.jobRecord()
            if let tokenID = request.tokenID {
                try await connection.query("""
                    INSERT INTO api_usage (token_id, day, documents) VALUES (\(tokenID), \(APIUsage.day(of: now)), 1)
                    ON CONFLICT (token_id, day) DO UPDATE SET documents = api_usage.documents + 1
                    """, logger: logger)
            }
            try await connection.query("""
                INSERT INTO step (job_id, position, plugin, state)
                SELECT \(job.id), (p.ord - 1)::integer, p.plugin, 'pending' FROM unnest(\(steps)::text[]) WITH ORDINALITY AS p (plugin, ord)
                """, logger: logger)
            return (job, true)
        }
        throw StorageError.invalid("could not create a job for document \(documentSHA256): every attempt conflicted")
    }

    private static func existingJob(_ connection: PostgresConnection, documentSHA256: String, request: JobRequest, logger: Logger) async throws -> JobRecord? {
        if let sourceKey = request.sourceKey,
           let row = try await connection.query("SELECT * FROM job WHERE source_key = \(sourceKey)", logger: logger).first() {
            return try row.jobRecord()
        }
        if let groupID = request.groupID,
           let row = try await connection.query("SELECT * FROM job WHERE group_id = \(groupID) AND document_sha256 = \(documentSHA256)",
                                                logger: logger).first() {
            return try row.jobRecord()
        }
        return nil
    }

    /// Wakes idle workers when the transaction commits (`LISTEN botgateway_jobs`).
    static func announceWork(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_notify(\(jobsChannel), '')", logger: logger)
    }

    // MARK: Running

    /// A job loop asking for work: claims asked for together are made together (`claims`).
    struct ClaimRequest: Sendable {
        var owner: String
        var leaseSeconds: Double
        var groupID: Int64?
        var now: Timestamp
    }

    public func claimNextJob(owner: String, leaseSeconds: Double, groupID: Int64?, now: Timestamp) async throws -> ClaimedJob? {
        try await claims.submit(ClaimRequest(owner: owner, leaseSeconds: leaseSeconds, groupID: groupID, now: now)) { requests in
            await self.claimRound(requests)
        }
    }

    /// One transaction per group asked for: up to one job for each of its askers.
    private func claimRound(_ requests: [ClaimRequest]) async -> [Result<ClaimedJob?, any Error>] {
        var results = [Result<ClaimedJob?, any Error>](repeating: .success(nil), count: requests.count)
        for (groupID, indices) in Dictionary(grouping: requests.indices, by: { requests[$0].groupID }) {
            let asking = indices.map { requests[$0] }
            do {
                let claimed = try await transaction { connection in
                    try await Self.genericPlans(connection, logger: self.logger)
                    return try await Self.claim(connection, asking, groupID: groupID, logger: self.logger)
                }
                for (position, index) in indices.enumerated() { results[index] = .success(claimed[position]) }
            } catch {
                for index in indices { results[index] = .failure(error) }
            }
        }
        return results
    }

    /// Leases up to one job per asker and begins each job's first unfinished step, in a handful of statements
    /// whatever the number: the rows first (`claimRows`), then their documents and steps, then the steps begun.
    private static func claim(_ connection: PostgresConnection, _ asking: [ClaimRequest], groupID: Int64?, logger: Logger) async throws -> [ClaimedJob?] {
        let now = asking.map(\.now).max() ?? .now
        var claimed = [ClaimedJob?](repeating: nil, count: asking.count)
        var found: [(asker: Int, job: JobRecord, reclaimed: Bool)] = []
        for row in try await connection.run(ClaimRows.self, claimRows(asking, groupID: groupID, now: now), logger: logger) {
            let reclaimed = try row.value("previous_state", as: String.self) == JobState.running.rawValue
            found.append((Int(try row.value("asker", as: Int64.self)) - 1, try row.jobRecord(), reclaimed))
        }
        guard !found.isEmpty else { return claimed }
        let jobIDs = found.map { $0.job.id ?? 0 }
        for (_, job, reclaimed) in found where reclaimed {
            // The previous worker died mid-step: its run is over, the step starts again.
            try await connection.query("""
                UPDATE step_run SET outcome = 'abandoned', finished_at = \(now) WHERE job_id = \(job.id) AND outcome = 'running'
                """, logger: logger)
            try await connection.query("UPDATE step SET state = 'pending' WHERE job_id = \(job.id) AND state = 'running'", logger: logger)
        }
        var documents: [String: DocumentRecord] = [:]
        for row in try await connection.run(ClaimedDocuments.self, claimedDocuments(Array(Set(found.map(\.job.documentSHA256)))), logger: logger) {
            let document = try row.documentRecord()
            documents[document.sha256] = document
        }
        var steps: [Int64: [StepRecord]] = [:]
        for row in try await connection.run(ClaimedSteps.self, claimedSteps(jobIDs), logger: logger) {
            let step = try row.stepRecord()
            steps[step.jobID, default: []].append(step)
        }
        var beginning: [(step: Int64, now: Timestamp)] = []
        for (asker, job, reclaimed) in found {
            var job = job
            guard let document = documents[job.documentSHA256] else {
                throw StorageError.notFound("document \(job.documentSHA256) of job \(job.code)")
            }
            var jobSteps = steps[job.id ?? 0] ?? []
            guard let current = jobSteps.firstIndex(where: { $0.state != .done }) else {
                // Every step done but the job not closed (crash between the two): close it now.
                try await closeJob(connection, &job, state: .done, error: nil, now: now, logger: logger)
                continue
            }
            jobSteps[current].begin(now: now)
            beginning.append((jobSteps[current].id ?? 0, now))
            claimed[asker] = ClaimedJob(job: job, document: document, steps: jobSteps, current: current, reclaimed: reclaimed)
        }
        try await begin(connection, beginning, logger: logger)
        return claimed
    }

    /// Locks up to one job per asker and leases it to that asker, raising its token, in one statement: jobs whose
    /// lease ran out (their worker died) first, then due jobs in order; rows other claims hold are skipped.
    /// Each row comes back with `asker`, the asker's place (from 1).
    fileprivate static func claimRows(_ asking: [ClaimRequest], groupID: Int64?, now: Timestamp) -> PostgresQuery {
        let count = asking.count
        return """
            WITH expired AS (
                SELECT id, state FROM job WHERE state = 'running' AND lease_expires_at < \(now) AND (\(groupID)::bigint IS NULL OR group_id = \(groupID))
                ORDER BY id LIMIT \(count) FOR UPDATE SKIP LOCKED),
            due AS (
                SELECT id, state, next_attempt_at FROM job
                WHERE state = 'queued' AND next_attempt_at <= \(now) AND (\(groupID)::bigint IS NULL OR group_id = \(groupID))
                  AND (SELECT COUNT(*) FROM expired) < \(count)
                ORDER BY next_attempt_at, id LIMIT \(count) FOR UPDATE SKIP LOCKED),
            found AS (
                SELECT id, state, row_number() OVER (ORDER BY pass, due_at, id) AS n
                FROM (SELECT id, state, 0 AS pass, 0::double precision AS due_at FROM expired
                      UNION ALL SELECT id, state, 1, next_attempt_at FROM due) AS both_kinds),
            -- Paused from the dashboard: the gateway's workers wait; a batch run (its own group) goes on.
            candidate AS (SELECT * FROM found WHERE n <= \(count)
                          AND (\(groupID)::bigint IS NOT NULL OR NOT (SELECT paused FROM pipeline_control WHERE id = 1))),
            asker AS (SELECT * FROM unnest(\(asking.map(\.owner))::text[], \(asking.map(\.leaseSeconds))::double precision[])
                      WITH ORDINALITY AS a (owner, lease, n))
            UPDATE job SET state = 'running', lease_owner = asker.owner, lease_expires_at = \(now) + asker.lease,
                lease_token = job.lease_token + 1, updated_at = \(now)
            FROM candidate JOIN asker ON asker.n = candidate.n
            WHERE job.id = candidate.id
            RETURNING \(unescaped: jobColumns("job")), candidate.state AS previous_state, asker.n AS asker
            """
    }

    /// Marks the steps running and opens their runs in the audit (owned by their job's lease), in one statement.
    private static func begin(_ connection: PostgresConnection, _ steps: [(step: Int64, now: Timestamp)], logger: Logger) async throws {
        guard !steps.isEmpty else { return }
        _ = try await connection.run(BeginSteps.self, beginSteps(steps), logger: logger)
    }

    fileprivate static func beginSteps(_ steps: [(step: Int64, now: Timestamp)]) -> PostgresQuery {
        """
            WITH started AS (
                UPDATE step SET state = 'running', attempts = step.attempts + 1, started_at = s.now, error = NULL
                FROM unnest(\(steps.map(\.step))::bigint[], \(steps.map(\.now))::double precision[]) AS s (id, now)
                WHERE step.id = s.id
                RETURNING step.job_id, step.plugin, step.attempts, s.now)
            INSERT INTO step_run (job_id, plugin, attempt, owner, outcome, started_at)
            SELECT started.job_id, started.plugin, started.attempts, job.lease_owner, 'running', started.now
            FROM started JOIN job ON job.id = started.job_id
            """
    }

    /// A finished step to record: finished steps asked for together are recorded together (`finishes`).
    struct FinishRequest: Sendable {
        var claimed: ClaimedJob
        var output: Data
        var usage: StepUsage
        var milliseconds: Double
        var outcome: StepRunOutcome
        var documentText: DocumentText?
        var now: Timestamp
    }

    public func finishStep(_ claimed: ClaimedJob, output: Data, usage: StepUsage, milliseconds: Double, outcome: StepRunOutcome,
                           documentText: DocumentText?, now: Timestamp) async throws -> ClaimedJob? {
        let request = FinishRequest(claimed: claimed, output: output, usage: usage, milliseconds: milliseconds, outcome: outcome,
                                    documentText: documentText, now: now)
        return try await finishes.submit(request) { requests in
            do {
                return try await self.transaction { connection in
                    try await Self.genericPlans(connection, logger: self.logger)
                    return try await Self.finish(connection, requests, logger: self.logger)
                }
            } catch {
                return requests.map { _ in .failure(error) }
            }
        }
    }

    /// Records each finished step whose job is still leased to its caller (the others get `leaseLost`), then begins
    /// each job's next step or closes the job: the same few statements for one step or fifty.
    private static func finish(_ connection: PostgresConnection, _ requests: [FinishRequest], logger: Logger) async throws
        -> [Result<ClaimedJob?, any Error>] {
        var holders: [Int64: (owner: String?, token: Int64)] = [:]
        for row in try await connection.run(LeaseHolders.self, leaseHolders(requests.map(\.claimed.jobID)), logger: logger) {
            holders[try row.value("id", as: Int64.self)] = (try row.value("lease_owner", as: String?.self), try row.value("lease_token", as: Int64.self))
        }
        var results = [Result<ClaimedJob?, any Error>](repeating: .success(nil), count: requests.count)
        var saving: [(step: StepRecord, outcome: StepRunOutcome)] = []
        var beginning: [(step: Int64, now: Timestamp)] = []
        var closing: [(job: Int64, now: Timestamp)] = []
        var recorded: Set<Int64> = []
        for (index, request) in requests.enumerated() {
            var claimed = request.claimed
            guard let holder = holders[claimed.jobID], holder.owner == claimed.job.leaseOwner, holder.token == claimed.job.leaseToken,
                  recorded.insert(claimed.jobID).inserted else {
                results[index] = .failure(StorageError.leaseLost(jobID: claimed.jobID))
                continue
            }
            if let text = request.documentText {
                try await connection.query("""
                    UPDATE document SET ocr_text = \(text.text), ocr_result = \(text.result), pages = \(text.pages)
                    WHERE sha256 = \(claimed.document.sha256)
                    """, logger: logger)
                claimed.keep(text)
            }
            claimed.steps[claimed.current].finish(output: request.output, milliseconds: request.milliseconds, usage: request.usage, now: request.now)
            saving.append((claimed.steps[claimed.current], request.outcome))
            if let next = claimed.steps.indices.first(where: { $0 > claimed.current && claimed.steps[$0].state != .done }) {
                claimed.steps[next].begin(now: request.now)
                beginning.append((claimed.steps[next].id ?? 0, request.now))
                claimed.current = next
                results[index] = .success(claimed)
            } else {
                claimed.job.close(.done, error: nil, now: request.now)
                closing.append((claimed.jobID, request.now))
            }
        }
        try await saveFinished(connection, saving, logger: logger)
        try await begin(connection, beginning, logger: logger)
        try await close(connection, closing, state: .done, error: nil, logger: logger)
        return results
    }

    /// Stores finished steps and closes their open runs in the audit, in one statement.
    private static func saveFinished(_ connection: PostgresConnection, _ saving: [(step: StepRecord, outcome: StepRunOutcome)],
                                     logger: Logger) async throws {
        guard !saving.isEmpty else { return }
        _ = try await connection.run(SaveFinished.self, saveFinished(saving), logger: logger)
    }

    fileprivate static func saveFinished(_ saving: [(step: StepRecord, outcome: StepRunOutcome)]) -> PostgresQuery {
        let steps = saving.map(\.step)
        return """
            WITH finished AS (
                SELECT * FROM unnest(\(steps.map { $0.id ?? 0 })::bigint[], \(steps.map { Int64($0.attempts) })::bigint[],
                                     \(steps.map { ByteBuffer(bytes: $0.output ?? Data()) })::bytea[],
                                     \(steps.map { $0.startedAt ?? 0 })::double precision[], \(steps.map { $0.finishedAt ?? 0 })::double precision[],
                                     \(steps.map { $0.durationMilliseconds ?? 0 })::double precision[],
                                     \(steps.map { Int64($0.inputTokens) })::bigint[], \(steps.map { Int64($0.outputTokens) })::bigint[],
                                     \(steps.map(\.costUSD))::double precision[], \(steps.map { $0.model ?? "" })::text[],
                                     \(saving.map(\.outcome.rawValue))::text[])
                    AS f (id, attempts, output, started_at, finished_at, duration, input_tokens, output_tokens, cost, model, outcome)),
            saved AS (
                UPDATE step SET state = 'done', attempts = finished.attempts::integer, output = finished.output, error = NULL,
                    started_at = finished.started_at, finished_at = finished.finished_at, duration_milliseconds = finished.duration,
                    input_tokens = finished.input_tokens, output_tokens = finished.output_tokens, cost_usd = finished.cost,
                    model = NULLIF(finished.model, '')
                FROM finished WHERE step.id = finished.id
                RETURNING step.job_id, step.plugin, finished.outcome, finished.finished_at)
            UPDATE step_run SET outcome = saved.outcome, finished_at = saved.finished_at
            FROM saved WHERE step_run.job_id = saved.job_id AND step_run.plugin = saved.plugin AND step_run.outcome = 'running'
            """
    }

    public func failStep(_ claimed: ClaimedJob, error: String, retryAt: Timestamp?, maxAttempts: Int, usage: StepUsage, now: Timestamp) async throws -> JobState {
        try await transaction { connection in
            try await Self.checkLease(connection, claimed, logger: self.logger)
            let (step, retry) = claimed.failedStep(error: error, usage: usage, retryAt: retryAt, maxAttempts: maxAttempts, now: now)
            try await Self.save(connection, step, endingRun: retry == nil ? .failed : .retry, now: now, logger: self.logger)
            var job = claimed.job
            guard let retry else {
                try await Self.closeJob(connection, &job, state: .failed, error: error, now: now, logger: self.logger)
                return .failed
            }
            job.lastError = error
            try await Self.requeue(connection, &job, at: retry, now: now, logger: self.logger)
            return .queued
        }
    }

    public func releaseJob(_ claimed: ClaimedJob, until due: Timestamp, reason: String?, now: Timestamp) async throws {
        try await transaction { connection in
            try await Self.checkLease(connection, claimed, logger: self.logger)
            var step = claimed.steps[claimed.current]
            step.state = .pending
            step.attempts = max(0, step.attempts - 1)
            try await Self.save(connection, step, endingRun: .released, now: now, logger: self.logger)
            var job = claimed.job
            if let reason { job.lastError = reason }
            try await Self.requeue(connection, &job, at: max(due, now), now: now, logger: self.logger)
        }
    }

    public func renewLease(jobID: Int64, owner: String, leaseSeconds: Double, now: Timestamp) async throws -> Bool {
        try await connection { connection in
            try await connection.query("""
                UPDATE job SET lease_expires_at = \(now + leaseSeconds) WHERE id = \(jobID) AND lease_owner = \(owner) AND state = 'running'
                RETURNING id
                """, logger: self.logger).first() != nil
        }
    }

    public func expireLeases(ofDeadOwners isAlive: @escaping @Sendable (String) -> Bool, now: Timestamp) async throws -> Int {
        try await transaction { connection in
            var expired = 0
            let owners = try await connection.query("SELECT DISTINCT lease_owner FROM job WHERE state = 'running' AND lease_owner IS NOT NULL",
                                                    logger: self.logger).rows().map { try $0.value("lease_owner", as: String.self) }
            for owner in owners where !isAlive(owner) {
                expired += try await connection.query("""
                    UPDATE job SET lease_expires_at = \(now - 1) WHERE state = 'running' AND lease_owner = \(owner) RETURNING id
                    """, logger: self.logger).rows().count
            }
            return expired
        }
    }

    /// Locks the job's row and checks that the caller still holds its lease: same owner, same fencing token.
    private static func checkLease(_ connection: PostgresConnection, _ claimed: ClaimedJob, logger: Logger) async throws {
        let row = try await connection.query("""
            SELECT lease_owner, lease_token FROM job WHERE id = \(claimed.jobID) AND state = 'running' FOR UPDATE
            """, logger: logger).first()
        guard let row, try row.value("lease_owner", as: String?.self) == claimed.job.leaseOwner,
              try row.value("lease_token", as: Int64.self) == claimed.job.leaseToken else {
            throw StorageError.leaseLost(jobID: claimed.jobID)
        }
    }

    /// Stores the step and closes its open run in the audit with `outcome`, in one statement.
    private static func save(_ connection: PostgresConnection, _ step: StepRecord, endingRun outcome: StepRunOutcome, now: Timestamp,
                             logger: Logger) async throws {
        try await connection.query("""
            WITH saved AS (
                UPDATE step SET state = \(step.state.rawValue), attempts = \(step.attempts), output = \(step.output), error = \(step.error),
                    started_at = \(step.startedAt), finished_at = \(step.finishedAt), duration_milliseconds = \(step.durationMilliseconds),
                    input_tokens = \(Int64(step.inputTokens)), output_tokens = \(Int64(step.outputTokens)), cost_usd = \(step.costUSD),
                    model = \(step.model)
                WHERE id = \(step.id)
                RETURNING job_id, plugin)
            UPDATE step_run SET outcome = \(outcome.rawValue), finished_at = \(now)
            FROM saved WHERE step_run.job_id = saved.job_id AND step_run.plugin = saved.plugin AND step_run.outcome = 'running'
            """, logger: logger)
    }

    static func requeue(_ connection: PostgresConnection, _ job: inout JobRecord, at due: Timestamp, now: Timestamp, logger: Logger) async throws {
        job.requeue(at: due, now: now)
        try await connection.query("""
            UPDATE job SET state = 'queued', next_attempt_at = \(due), lease_owner = NULL, lease_expires_at = NULL, last_error = \(job.lastError),
                finished_at = NULL, updated_at = \(now) WHERE id = \(job.id)
            """, logger: logger)
        try await announceWork(connection, logger: logger)
    }

    static func closeJob(_ connection: PostgresConnection, _ job: inout JobRecord, state: JobState, error: String?, now: Timestamp,
                         logger: Logger) async throws {
        job.close(state, error: error, now: now)
        try await close(connection, [(job.id ?? 0, now)], state: state, error: error, logger: logger)
    }

    /// Ends jobs in one statement: their state, error and finish time set, their leases released.
    private static func close(_ connection: PostgresConnection, _ jobs: [(job: Int64, now: Timestamp)], state: JobState, error: String?,
                              logger: Logger) async throws {
        guard !jobs.isEmpty else { return }
        _ = try await connection.run(CloseJobs.self, closeJobs(jobs, state: state, error: error), logger: logger)
    }

    fileprivate static func closeJobs(_ jobs: [(job: Int64, now: Timestamp)], state: JobState, error: String?) -> PostgresQuery {
        """
        UPDATE job SET state = \(state.rawValue), last_error = \(error), lease_owner = NULL, lease_expires_at = NULL, finished_at = c.now,
            updated_at = c.now
        FROM unnest(\(jobs.map(\.job))::bigint[], \(jobs.map(\.now))::double precision[]) AS c (id, now)
        WHERE job.id = c.id
        """
    }

    // MARK: Admin and counts

    public func retryJob(code: String, now: Timestamp) async throws -> JobRecord {
        let code = JobCode.normalized(code)
        return try await transaction { connection in
            guard let row = try await connection.query("SELECT * FROM job WHERE code = \(code) FOR UPDATE", logger: self.logger).first() else {
                throw StorageError.notFound("job \(code)")
            }
            var job = try row.jobRecord()
            guard job.state == .failed else { throw StorageError.invalid("job \(code) is \(job.state.rawValue), only failed jobs can be retried") }
            try await Self.requeueFailed(connection, &job, now: now, logger: self.logger)
            return job
        }
    }

    /// A failed job back in the queue: its failed step starts again with fresh attempts, its callback is due again.
    static func requeueFailed(_ connection: PostgresConnection, _ job: inout JobRecord, now: Timestamp, logger: Logger) async throws {
        try await connection.query("UPDATE step SET state = 'pending', attempts = 0, error = NULL WHERE job_id = \(job.id) AND state = 'failed'",
                                   logger: logger)
        job.lastError = nil
        try await requeue(connection, &job, at: now, now: now, logger: logger)
        try await connection.query("UPDATE job SET callback_queued_at = NULL WHERE id = \(job.id)", logger: logger)
    }

    public func jobCounts(groupID: Int64?) async throws -> [JobState: Int] {
        try await connection { connection in
            var counts: [JobState: Int] = [:]
            for row in try await connection.query("""
                SELECT state, COUNT(*) AS count FROM job WHERE \(groupID)::bigint IS NULL OR group_id = \(groupID) GROUP BY state
                """, logger: self.logger).rows() {
                if let state = JobState(rawValue: try row.value("state")) { counts[state] = Int(try row.value("count", as: Int64.self)) }
            }
            return counts
        }
    }

    /// Every idle loop of a batch run asks this, so it walks an index and stops at the first job it finds: a
    /// group's jobs by `job_group_state`; otherwise the waiting jobs in due order (`job_due`), then the leased
    /// ones. Each is a scalar subquery with `ORDER BY … LIMIT 1`, which keeps the index order as the plan whatever
    /// the statistics say (inside `EXISTS` PostgreSQL drops the order and the limit).
    ///
    /// It counted before, in one statement with `state IN (…)`, planned on statistics from when every job waited:
    /// that read both whole tables, and when a run's last jobs were finishing, its idle loops asking at once took
    /// 50–300 ms each and held up those finishes (`auto_explain` during `botgateway-bench pipeline --store postgres`).
    public func hasUnfinishedJobs(groupID: Int64?, ignoring: Set<String>) async throws -> Bool {
        let ignored = ignoring.sorted()
        let query: PostgresQuery
        if let groupID {
            query = """
                SELECT (SELECT id FROM job WHERE group_id = \(groupID) AND state IN ('queued', 'running')
                          AND EXISTS (SELECT 1 FROM step WHERE step.job_id = job.id AND step.state <> 'done'
                                        AND NOT (step.plugin = ANY(\(ignored)::text[])))
                        LIMIT 1) IS NOT NULL AS unfinished
                """
        } else {
            query = """
                SELECT (SELECT id FROM job WHERE state = 'queued'
                          AND EXISTS (SELECT 1 FROM step WHERE step.job_id = job.id AND step.state <> 'done'
                                        AND NOT (step.plugin = ANY(\(ignored)::text[])))
                        ORDER BY next_attempt_at, id LIMIT 1) IS NOT NULL
                    OR (SELECT id FROM job WHERE state = 'running'
                          AND EXISTS (SELECT 1 FROM step WHERE step.job_id = job.id AND step.state <> 'done'
                                        AND NOT (step.plugin = ANY(\(ignored)::text[])))
                        LIMIT 1) IS NOT NULL AS unfinished
                """
        }
        return try await connection { connection in
            try await connection.query(query, logger: self.logger).first()?.value("unfinished", as: Bool.self) ?? false
        }
    }

    public func nextDueTime(groupID: Int64?) async throws -> Timestamp? {
        try await connection { connection in
            let row = try await connection.query("""
                SELECT (SELECT MIN(next_attempt_at) FROM job WHERE state = 'queued' AND (\(groupID)::bigint IS NULL OR group_id = \(groupID))) AS queued,
                       (SELECT MIN(lease_expires_at) FROM job WHERE state = 'running' AND (\(groupID)::bigint IS NULL OR group_id = \(groupID))) AS leased
                """, logger: self.logger).first()
            return [try row?.value("queued", as: Double?.self), try row?.value("leased", as: Double?.self)].compactMap { $0 }.min()
        }
    }

    public func expediteQueuedJobs(groupID: Int64, now: Timestamp) async throws {
        try await transaction { connection in
            try await connection.query("""
                UPDATE job SET next_attempt_at = \(now) WHERE group_id = \(groupID) AND state = 'queued' AND next_attempt_at > \(now)
                """, logger: self.logger)
            try await Self.announceWork(connection, logger: self.logger)
        }
    }

    // MARK: Audit

    public func stepRuns(jobID: Int64) async throws -> [StepRunRecord] {
        try await connection { connection in
            try await connection.query("SELECT * FROM step_run WHERE job_id = \(jobID) ORDER BY id", logger: self.logger).rows().map { try $0.stepRunRecord() }
        }
    }

    public func completedRunCounts(plugin: String) async throws -> [Int64: Int] {
        try await connection { connection in
            var counts: [Int64: Int] = [:]
            for row in try await connection.query("""
                SELECT job_id, COUNT(*) AS count FROM step_run WHERE plugin = \(plugin) AND outcome IN ('done', 'reused') GROUP BY job_id
                """, logger: self.logger).rows() {
                counts[try row.value("job_id", as: Int64.self)] = Int(try row.value("count", as: Int64.self))
            }
            return counts
        }
    }
}

// MARK: The statements of every job, prepared

/// What `refreshStatisticsIfGrown` keeps between enqueues.
struct QueueStatistics {
    static let minimumThreshold = 1_000
    var sinceRefresh = 0
    var threshold = minimumThreshold
    var refreshing = false
}

extension PostgresDatabase {
    /// For the rest of this transaction the prepared statements run on the plan made the first time (a generic
    /// plan, the same indexes as a custom one) instead of being planned again for each round's values.
    static func genericPlans(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SET LOCAL plan_cache_mode = force_generic_plan", logger: logger)
    }

    /// A job's columns, named (not `*`): a prepared statement's result may not change shape when a later
    /// migration adds a column.
    static func jobColumns(_ table: String) -> String {
        ["id", "code", "document_sha256", "origin", "source_name", "group_id", "chat_id", "user_id", "message_id", "language_code", "state",
         "next_attempt_at", "lease_owner", "lease_expires_at", "lease_token", "last_error", "created_at", "updated_at", "finished_at",
         "source_key", "notified_at", "token_id", "callback_url"].map { "\(table).\($0)" }.joined(separator: ", ")
    }

    static let stepColumns = "id, job_id, position, plugin, state, attempts, output, error, started_at, finished_at, duration_milliseconds, "
        + "input_tokens, output_tokens, cost_usd, model"

    fileprivate static func claimedDocuments(_ shas: [String]) -> PostgresQuery {
        "SELECT \(unescaped: documentColumns) FROM document WHERE sha256 = ANY(\(shas)::text[])"
    }

    fileprivate static func claimedSteps(_ jobIDs: [Int64]) -> PostgresQuery {
        "SELECT \(unescaped: stepColumns) FROM step WHERE job_id = ANY(\(jobIDs)::bigint[]) ORDER BY job_id, position"
    }

    /// Rows locked in id order, so two rounds touching the same jobs never wait on each other in a circle.
    fileprivate static func leaseHolders(_ jobIDs: [Int64]) -> PostgresQuery {
        "SELECT id, lease_owner, lease_token FROM job WHERE id = ANY(\(jobIDs)::bigint[]) AND state = 'running' ORDER BY id FOR UPDATE"
    }
}

private enum ClaimRows: PreparedShape { static let sql = PostgresDatabase.claimRows([], groupID: nil, now: 0).sql }

private enum ClaimedDocuments: PreparedShape { static let sql = PostgresDatabase.claimedDocuments([]).sql }

private enum ClaimedSteps: PreparedShape { static let sql = PostgresDatabase.claimedSteps([]).sql }

private enum BeginSteps: PreparedShape { static let sql = PostgresDatabase.beginSteps([]).sql }

private enum LeaseHolders: PreparedShape { static let sql = PostgresDatabase.leaseHolders([]).sql }

private enum SaveFinished: PreparedShape { static let sql = PostgresDatabase.saveFinished([]).sql }

private enum CloseJobs: PreparedShape { static let sql = PostgresDatabase.closeJobs([], state: .done, error: nil).sql }
