import Foundation
import PostgresNIO
import Storage

/// The `DashboardStore` on PostgreSQL: the same answers as the SQLite store's, from the same tables.
extension PostgresDatabase: DashboardStore {
    // MARK: Sign-in links

    public func createSignInLink(hash: String, userID: Int64, expiresAt: Timestamp, now: Timestamp) async throws {
        try await transaction { connection in
            try await connection.query("DELETE FROM sign_in_link WHERE expires_at < \(now - 86400)", logger: self.logger)
            try await connection.query("""
                INSERT INTO sign_in_link (token_hash, user_id, created_at, expires_at) VALUES (\(hash), \(userID), \(now), \(expiresAt))
                """, logger: self.logger)
        }
    }

    public func useSignInLink(hash: String, now: Timestamp) async throws -> SignInLinkUse {
        try await transaction { connection in
            guard let row = try await connection.query("SELECT user_id, expires_at, used_at FROM sign_in_link WHERE token_hash = \(hash) FOR UPDATE",
                                                       logger: self.logger).first() else { return .unknown }
            if try row.value("used_at", as: Double?.self) != nil { return .used }
            if try row.value("expires_at", as: Double.self) < now { return .expired }
            try await connection.query("UPDATE sign_in_link SET used_at = \(now) WHERE token_hash = \(hash)", logger: self.logger)
            return .valid(userID: try row.value("user_id"))
        }
    }

    // MARK: Pause

    public func pipelinePaused() async throws -> Bool {
        try await connection { connection in
            try await connection.query("SELECT paused FROM pipeline_control WHERE id = 1", logger: self.logger).first()?.value("paused") ?? false
        }
    }

    public func setPipelinePaused(_ paused: Bool, by userID: Int64?, now: Timestamp) async throws {
        try await transaction { connection in
            try await connection.query("UPDATE pipeline_control SET paused = \(paused), changed_by = \(userID), changed_at = \(now) WHERE id = 1",
                                       logger: self.logger)
            // Idle workers on every machine look again at once.
            if !paused { try await Self.announceWork(connection, logger: self.logger) }
        }
    }

    // MARK: Overview

    public func overview(now: Timestamp) async throws -> DashboardOverview {
        let hourStart = DashboardBuckets.hourStart(now: now), dayStart = DashboardBuckets.dayStart(now: now)
        let todayStart = DashboardBuckets.startOfDay(now), monthStart = DashboardBuckets.monthStart(now: now)
        return try await connection { connection in
            var depth: [String: QueueDepth] = [:]
            for row in try await connection.query("""
                SELECT (SELECT plugin FROM step WHERE step.job_id = job.id AND step.state != 'done' ORDER BY position LIMIT 1) AS plugin,
                       job.state AS state, COUNT(*) AS count
                FROM job WHERE job.state IN ('queued', 'running') GROUP BY 1, 2
                """, logger: self.logger).rows() {
                let step = try row.value("plugin", as: String?.self) ?? "closing"
                var entry = depth[step] ?? QueueDepth(step: step, queued: 0, running: 0)
                let count = Int(try row.value("count", as: Int64.self))
                if try row.value("state", as: String.self) == "running" { entry.running += count } else { entry.queued += count }
                depth[step] = entry
            }
            func buckets(start: Double, width: Double) async throws -> [(Int, Int)] {
                try await connection.query("""
                    SELECT floor((created_at - \(start)) / \(width))::bigint AS bucket, COUNT(*) AS count FROM job WHERE created_at >= \(start) GROUP BY 1
                    """, logger: self.logger).rows().map { (Int(try $0.value("bucket", as: Int64.self)), Int(try $0.value("count", as: Int64.self))) }
            }
            func spend(since: Double) async throws -> Double {
                try await connection.query("""
                    SELECT COALESCE(SUM(cost_usd), 0)::double precision AS cost FROM (
                        SELECT cost_usd FROM step WHERE cost_usd > 0 AND COALESCE(finished_at, started_at) >= \(since)
                        UNION ALL SELECT cost_usd FROM llm_usage WHERE created_at >= \(since)) AS spent
                    """, logger: self.logger).first()?.value("cost") ?? 0
            }
            let finished = try await connection.query("""
                SELECT COUNT(*) AS finished, COUNT(*) FILTER (WHERE state = 'failed') AS failed FROM job WHERE finished_at >= \(now - 86400)
                """, logger: self.logger).first()
            let undelivered = try await connection.query("SELECT COUNT(*) AS count FROM outbox WHERE state IN ('pending', 'sending')",
                                                         logger: self.logger).first()?.value("count", as: Int64.self) ?? 0
            let paused = try await connection.query("SELECT paused FROM pipeline_control WHERE id = 1", logger: self.logger).first()?.value("paused",
                                                                                                                                         as: Bool.self)
            return DashboardOverview(
                queue: depth.values.sorted { $0.step < $1.step },
                perHour: DashboardBuckets.fill(try await buckets(start: hourStart, width: 3600), size: DashboardBuckets.hours),
                perDay: DashboardBuckets.fill(try await buckets(start: dayStart, width: 86400), size: DashboardBuckets.days),
                finishedLastDay: Int(try finished?.value("finished", as: Int64.self) ?? 0),
                failedLastDay: Int(try finished?.value("failed", as: Int64.self) ?? 0),
                spendTodayUSD: try await spend(since: todayStart), spendThisMonthUSD: try await spend(since: monthStart),
                undeliveredReplies: Int(undelivered), paused: paused ?? false)
        }
    }

    // MARK: Jobs

    /// `head`, the filter as its WHERE clause (a field left out matches all) and `also`, then `order`, `limit`, and the
    /// rows locked when `lock`.
    private static func filtered(_ head: String, _ filter: JobFilter, also: String = "", beforeID: Int64? = nil, order: String = "",
                                 limit: Int? = nil, lock: Bool = false) -> PostgresQuery {
        let state = filter.state?.rawValue, origin = filter.origin?.rawValue, limit = limit.map(Int64.init)
        return """
            \(unescaped: head) WHERE (\(state)::text IS NULL OR job.state = \(state))
              AND (\(origin)::text IS NULL OR job.origin = \(origin))
              AND (\(filter.userID)::bigint IS NULL OR job.user_id = \(filter.userID))
              AND (\(filter.createdFrom)::double precision IS NULL OR job.created_at >= \(filter.createdFrom))
              AND (\(filter.createdBefore)::double precision IS NULL OR job.created_at < \(filter.createdBefore))
              AND (\(filter.step)::text IS NULL
                   OR (SELECT plugin FROM step WHERE step.job_id = job.id AND step.state != 'done' ORDER BY position LIMIT 1) = \(filter.step))
              AND (\(beforeID)::bigint IS NULL OR job.id < \(beforeID)) \(unescaped: also)
            \(unescaped: order) LIMIT \(limit) \(unescaped: lock ? "FOR UPDATE OF job" : "")
            """
    }

    public func jobRows(_ filter: JobFilter, beforeID: Int64?, limit: Int) async throws -> [JobRow] {
        try await connection { connection in
            try await connection.query(Self.filtered("""
                SELECT job.*,
                       (SELECT plugin FROM step WHERE step.job_id = job.id AND step.state != 'done' ORDER BY position LIMIT 1) AS current_step,
                       (SELECT COALESCE(SUM(attempts), 0)::bigint FROM step WHERE step.job_id = job.id) AS total_attempts,
                       (SELECT COALESCE(SUM(cost_usd), 0)::double precision FROM step WHERE step.job_id = job.id) AS total_cost
                FROM job
                """, filter, beforeID: beforeID, order: "ORDER BY job.id DESC", limit: limit), logger: self.logger).rows().map {
                JobRow(job: try $0.jobRecord(), step: try $0.value("current_step"), attempts: Int(try $0.value("total_attempts", as: Int64.self)),
                       costUSD: try $0.value("total_cost"))
            }
        }
    }

    public func countJobs(_ filter: JobFilter) async throws -> Int {
        try await connection { connection in
            Int(try await connection.query(Self.filtered("SELECT COUNT(*) AS count FROM job", filter), logger: self.logger).first()?
                .value("count", as: Int64.self) ?? 0)
        }
    }

    public func cancelJobs(_ filter: JobFilter, reason: String, now: Timestamp) async throws -> Int {
        try await transaction { connection in
            let ids = try await connection.query(Self.filtered("SELECT id FROM job", filter, also: "AND job.state IN ('queued', 'running')", lock: true),
                                                 logger: self.logger).rows().map { try $0.value("id", as: Int64.self) }
            for id in ids {
                // The step it was at fails with the reason (a retry starts it again); a worker still running it holds
                // an old lease token and records nothing.
                try await connection.query("""
                    UPDATE step SET state = 'failed', error = \(reason)
                    WHERE id = (SELECT id FROM step WHERE job_id = \(id) AND state != 'done' ORDER BY position LIMIT 1)
                    """, logger: self.logger)
                try await connection.query("""
                    UPDATE step_run SET outcome = 'abandoned', finished_at = \(now) WHERE job_id = \(id) AND outcome = 'running'
                    """, logger: self.logger)
                try await connection.query("""
                    UPDATE job SET state = 'failed', last_error = \(reason), lease_owner = NULL, lease_expires_at = NULL,
                                   lease_token = lease_token + 1, finished_at = \(now), updated_at = \(now) WHERE id = \(id)
                    """, logger: self.logger)
            }
            return ids.count
        }
    }

    public func retryJobs(_ filter: JobFilter, now: Timestamp) async throws -> Int {
        try await transaction { connection in
            let jobs = try await connection.query(Self.filtered("SELECT * FROM job", filter, also: "AND job.state = 'failed'", lock: true),
                                                  logger: self.logger).rows().map { try $0.jobRecord() }
            for var job in jobs { try await Self.requeueFailed(connection, &job, now: now, logger: self.logger) }
            return jobs.count
        }
    }

    // MARK: Costs

    public func costs(since: Timestamp, now: Timestamp) async throws -> CostReport {
        try await connection { connection in
            let usage = """
                SELECT COALESCE(step.finished_at, step.started_at) AS at, step.model AS model, step.plugin AS analyser,
                       CASE WHEN job.user_id IS NOT NULL THEN 'user ' || job.user_id WHEN job.token_id IS NOT NULL THEN 'token ' || job.token_id
                            ELSE job.origin END AS who,
                       step.input_tokens AS input, step.output_tokens AS output, step.cost_usd AS cost
                FROM step JOIN job ON job.id = step.job_id WHERE step.model IS NOT NULL OR step.cost_usd > 0
                UNION ALL SELECT created_at, model, purpose, CASE WHEN user_id IS NOT NULL THEN 'user ' || user_id ELSE 'reports' END,
                                 input_tokens, output_tokens, cost_usd FROM llm_usage
                """
            func lines(_ key: String, order: String = "cost DESC") async throws -> [CostLine] {
                try await connection.query("""
                    SELECT \(unescaped: key) AS label, COUNT(*) AS calls, SUM(input)::bigint AS input, SUM(output)::bigint AS output,
                           SUM(cost)::double precision AS cost
                    FROM (\(unescaped: usage)) AS usage WHERE at >= \(since) GROUP BY 1 ORDER BY \(unescaped: order) LIMIT 100
                    """, logger: self.logger).rows().map {
                    CostLine(label: try $0.value("label", as: String?.self) ?? "unknown", calls: Int(try $0.value("calls", as: Int64.self)),
                             inputTokens: Int(try $0.value("input", as: Int64?.self) ?? 0), outputTokens: Int(try $0.value("output", as: Int64?.self) ?? 0),
                             costUSD: try $0.value("cost", as: Double?.self) ?? 0)
                }
            }
            let top = try await connection.query("""
                SELECT MAX(job.code) AS code, MAX(job.source_name) AS name, SUM(step.cost_usd)::double precision AS cost,
                       SUM(step.input_tokens)::bigint AS input, SUM(step.output_tokens)::bigint AS output
                FROM step JOIN job ON job.id = step.job_id
                WHERE step.cost_usd > 0 AND COALESCE(step.finished_at, step.started_at) >= \(since)
                GROUP BY job.document_sha256 ORDER BY cost DESC LIMIT 10
                """, logger: self.logger).rows().map {
                DocumentCost(jobCode: try $0.value("code"), name: try $0.value("name"), costUSD: try $0.value("cost"),
                             inputTokens: Int(try $0.value("input", as: Int64.self)), outputTokens: Int(try $0.value("output", as: Int64.self)))
            }
            return CostReport(byDay: try await lines("to_char(to_timestamp(at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')", order: "label"),
                              byModel: try await lines("COALESCE(model, 'unpriced')"), byUser: try await lines("who"),
                              byAnalyser: try await lines("analyser"), topDocuments: top)
        }
    }

    public func lastActivity() async throws -> [Int64: Timestamp] {
        try await connection { connection in
            var seen: [Int64: Timestamp] = [:]
            for row in try await connection.query("SELECT user_id, MAX(created_at) AS at FROM job WHERE user_id IS NOT NULL GROUP BY user_id",
                                                  logger: self.logger).rows() {
                seen[try row.value("user_id", as: Int64.self)] = try row.value("at", as: Double.self)
            }
            return seen
        }
    }
}
