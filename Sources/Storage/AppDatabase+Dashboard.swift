import Foundation
import GRDB

extension AppDatabase: DashboardStore {
    // MARK: Sign-in links

    public func createSignInLink(hash: String, userID: Int64, expiresAt: Timestamp, now: Timestamp) async throws {
        try await write { db in
            // Links are short-lived: the used and expired ones of yesterday go as new ones are made.
            try db.execute(sql: "DELETE FROM signInLink WHERE expiresAt < ?", arguments: [now - 86400])
            try db.execute(sql: "INSERT INTO signInLink (tokenHash, userID, createdAt, expiresAt) VALUES (?, ?, ?, ?)",
                           arguments: [hash, userID, now, expiresAt])
        }
    }

    public func useSignInLink(hash: String, now: Timestamp) async throws -> SignInLinkUse {
        try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT userID, expiresAt, usedAt FROM signInLink WHERE tokenHash = ?", arguments: [hash]) else {
                return .unknown
            }
            if (row["usedAt"] as Timestamp?) != nil { return .used }
            if (row["expiresAt"] as Timestamp) < now { return .expired }
            try db.execute(sql: "UPDATE signInLink SET usedAt = ? WHERE tokenHash = ?", arguments: [now, hash])
            return .valid(userID: row["userID"])
        }
    }

    // MARK: Pause

    public func pipelinePaused() async throws -> Bool {
        try await read { db in try Bool.fetchOne(db, sql: "SELECT paused FROM pipelineControl WHERE id = 1") ?? false }
    }

    public func setPipelinePaused(_ paused: Bool, by userID: Int64?, now: Timestamp) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE pipelineControl SET paused = ?, changedBy = ?, changedAt = ? WHERE id = 1", arguments: [paused, userID, now])
        }
    }

    // MARK: Overview

    public func overview(now: Timestamp) async throws -> DashboardOverview {
        try await read { db in
            var depth: [String: QueueDepth] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT (SELECT plugin FROM step WHERE step.jobID = job.id AND step.state != 'done' ORDER BY position LIMIT 1) AS plugin,
                       job.state AS state, COUNT(*) AS count
                FROM job WHERE job.state IN ('queued', 'running') GROUP BY plugin, job.state
                """) {
                let step: String = row["plugin"] ?? "closing"
                var entry = depth[step] ?? QueueDepth(step: step, queued: 0, running: 0)
                if (row["state"] as String) == "running" { entry.running += row["count"] } else { entry.queued += row["count"] }
                depth[step] = entry
            }
            let hourStart = DashboardBuckets.hourStart(now: now), dayStart = DashboardBuckets.dayStart(now: now)
            let hours = try Row.fetchAll(db, sql: """
                SELECT CAST((createdAt - ?) / 3600 AS INTEGER) AS bucket, COUNT(*) AS count FROM job WHERE createdAt >= ? GROUP BY bucket
                """, arguments: [hourStart, hourStart]).map { ($0["bucket"] as Int, $0["count"] as Int) }
            let days = try Row.fetchAll(db, sql: """
                SELECT CAST((createdAt - ?) / 86400 AS INTEGER) AS bucket, COUNT(*) AS count FROM job WHERE createdAt >= ? GROUP BY bucket
                """, arguments: [dayStart, dayStart]).map { ($0["bucket"] as Int, $0["count"] as Int) }
            let finished = try Row.fetchOne(db, sql: """
                SELECT COUNT(*) AS finished, COALESCE(SUM(state = 'failed'), 0) AS failed FROM job WHERE finishedAt >= ?
                """, arguments: [now - 86400])
            func spend(since: Timestamp) throws -> Double {
                try Double.fetchOne(db, sql: """
                    SELECT COALESCE(SUM(costUSD), 0) FROM (
                        SELECT costUSD FROM step WHERE costUSD > 0 AND COALESCE(finishedAt, startedAt) >= ?
                        UNION ALL SELECT costUSD FROM llmUsage WHERE createdAt >= ?)
                    """, arguments: [since, since]) ?? 0
            }
            return DashboardOverview(
                queue: depth.values.sorted { $0.step < $1.step },
                perHour: DashboardBuckets.fill(hours, size: DashboardBuckets.hours),
                perDay: DashboardBuckets.fill(days, size: DashboardBuckets.days),
                finishedLastDay: finished?["finished"] ?? 0, failedLastDay: finished?["failed"] ?? 0,
                spendTodayUSD: try spend(since: DashboardBuckets.startOfDay(now)),
                spendThisMonthUSD: try spend(since: DashboardBuckets.monthStart(now: now)),
                undeliveredReplies: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')") ?? 0,
                paused: try Bool.fetchOne(db, sql: "SELECT paused FROM pipelineControl WHERE id = 1") ?? false)
        }
    }

    // MARK: Jobs

    /// The filter as SQL over `job`: each set field one indexed condition.
    private static func condition(_ filter: JobFilter) -> (sql: String, arguments: StatementArguments) {
        var parts: [String] = ["1"]
        var arguments: StatementArguments = []
        if let state = filter.state { parts.append("job.state = ?"); arguments += [state.rawValue] }
        if let origin = filter.origin { parts.append("job.origin = ?"); arguments += [origin.rawValue] }
        if let user = filter.userID { parts.append("job.userID = ?"); arguments += [user] }
        if let from = filter.createdFrom { parts.append("job.createdAt >= ?"); arguments += [from] }
        if let before = filter.createdBefore { parts.append("job.createdAt < ?"); arguments += [before] }
        if let step = filter.step {
            parts.append("(SELECT plugin FROM step WHERE step.jobID = job.id AND step.state != 'done' ORDER BY position LIMIT 1) = ?")
            arguments += [step]
        }
        return (parts.joined(separator: " AND "), arguments)
    }

    public func jobRows(_ filter: JobFilter, beforeID: Int64?, limit: Int) async throws -> [JobRow] {
        try await read { db in
            var (condition, arguments) = Self.condition(filter)
            if let beforeID {
                condition += " AND job.id < ?"
                arguments += [beforeID]
            }
            arguments += [limit]
            return try Row.fetchAll(db, sql: """
                SELECT job.*,
                       (SELECT plugin FROM step WHERE step.jobID = job.id AND step.state != 'done' ORDER BY position LIMIT 1) AS currentStep,
                       (SELECT COALESCE(SUM(attempts), 0) FROM step WHERE step.jobID = job.id) AS totalAttempts,
                       (SELECT COALESCE(SUM(costUSD), 0) FROM step WHERE step.jobID = job.id) AS totalCost
                FROM job WHERE \(condition) ORDER BY job.id DESC LIMIT ?
                """, arguments: arguments).map {
                JobRow(job: try JobRecord(row: $0), step: $0["currentStep"], attempts: $0["totalAttempts"], costUSD: $0["totalCost"])
            }
        }
    }

    public func countJobs(_ filter: JobFilter) async throws -> Int {
        try await read { db in
            let (condition, arguments) = Self.condition(filter)
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job WHERE \(condition)", arguments: arguments) ?? 0
        }
    }

    public func cancelJobs(_ filter: JobFilter, reason: String, now: Timestamp) async throws -> Int {
        try await write { db in
            let (condition, arguments) = Self.condition(filter)
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM job WHERE \(condition) AND job.state IN ('queued', 'running')", arguments: arguments)
            for id in ids {
                // The step it was at fails with the reason (a retry starts it again); a worker still running it holds
                // an old lease token and records nothing.
                try db.execute(sql: """
                    UPDATE step SET state = 'failed', error = ? WHERE id = (SELECT id FROM step WHERE jobID = ? AND state != 'done' ORDER BY position LIMIT 1)
                    """, arguments: [reason, id])
                try db.execute(sql: "UPDATE stepRun SET outcome = ?, finishedAt = ? WHERE jobID = ? AND outcome = ?",
                               arguments: [StepRunOutcome.abandoned, now, id, StepRunOutcome.running])
                try db.execute(sql: """
                    UPDATE job SET state = 'failed', lastError = ?, leaseOwner = NULL, leaseExpiresAt = NULL, leaseToken = leaseToken + 1,
                                   finishedAt = ?, updatedAt = ? WHERE id = ?
                    """, arguments: [reason, now, now, id])
            }
            return ids.count
        }
    }

    public func retryJobs(_ filter: JobFilter, now: Timestamp) async throws -> Int {
        try await write { db in
            let (condition, arguments) = Self.condition(filter)
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM job WHERE \(condition) AND job.state = 'failed'", arguments: arguments)
            for id in ids { try Self.requeueFailed(db, jobID: id, now: now) }
            return ids.count
        }
    }

    // MARK: Costs

    public func costs(since: Timestamp, now: Timestamp) async throws -> CostReport {
        try await read { db in
            // Every priced call: the jobs' steps (with their requester) and the calls outside jobs (report summaries,
            // answers to a user's questions).
            let usage = """
                SELECT COALESCE(step.finishedAt, step.startedAt) AS at, step.model AS model, step.plugin AS analyser,
                       CASE WHEN job.userID IS NOT NULL THEN 'user ' || job.userID WHEN job.tokenID IS NOT NULL THEN 'token ' || job.tokenID
                            ELSE job.origin END AS who,
                       step.inputTokens AS input, step.outputTokens AS output, step.costUSD AS cost
                FROM step JOIN job ON job.id = step.jobID WHERE step.model IS NOT NULL OR step.costUSD > 0
                UNION ALL SELECT createdAt, model, purpose, CASE WHEN userID IS NOT NULL THEN 'user ' || userID ELSE 'reports' END,
                                 inputTokens, outputTokens, costUSD FROM llmUsage
                """
            func lines(_ key: String, order: String = "cost DESC") throws -> [CostLine] {
                try Row.fetchAll(db, sql: """
                    SELECT \(key) AS label, COUNT(*) AS calls, SUM(input) AS input, SUM(output) AS output, SUM(cost) AS cost
                    FROM (\(usage)) WHERE at >= ? GROUP BY label ORDER BY \(order) LIMIT 100
                    """, arguments: [since]).map {
                    CostLine(label: $0["label"] ?? "unknown", calls: $0["calls"], inputTokens: $0["input"] ?? 0, outputTokens: $0["output"] ?? 0,
                             costUSD: $0["cost"] ?? 0)
                }
            }
            let top = try Row.fetchAll(db, sql: """
                SELECT MAX(job.code) AS code, MAX(job.sourceName) AS name, SUM(step.costUSD) AS cost, SUM(step.inputTokens) AS input,
                       SUM(step.outputTokens) AS output
                FROM step JOIN job ON job.id = step.jobID
                WHERE step.costUSD > 0 AND COALESCE(step.finishedAt, step.startedAt) >= ?
                GROUP BY job.documentSHA256 ORDER BY cost DESC LIMIT 10
                """, arguments: [since]).map {
                DocumentCost(jobCode: $0["code"], name: $0["name"], costUSD: $0["cost"], inputTokens: $0["input"], outputTokens: $0["output"])
            }
            return CostReport(byDay: try lines("date(at, 'unixepoch')", order: "label"), byModel: try lines("COALESCE(model, 'unpriced')"),
                              byUser: try lines("who"), byAnalyser: try lines("analyser"), topDocuments: top)
        }
    }

    public func lastActivity() async throws -> [Int64: Timestamp] {
        try await read { db in
            var seen: [Int64: Timestamp] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT userID, MAX(createdAt) AS at FROM job WHERE userID IS NOT NULL GROUP BY userID") {
                seen[row["userID"]] = row["at"]
            }
            return seen
        }
    }
}
