import Foundation
import PostgresNIO
import Storage

/// The `APIStore` and the `CallbackOutbox` on PostgreSQL. Several gateways share the outbox: events are
/// recorded under row locks that skip what another gateway holds, and claimed the same way.
extension PostgresDatabase: APIStore, CallbackOutbox {
    // MARK: Tokens

    public func createToken(_ token: APITokenRecord) async throws -> APITokenRecord {
        let row = try await connection { connection in
            try await connection.query("""
                INSERT INTO api_token (name, token_hash, hint, scopes, rate_limit, daily_quota, created_at)
                VALUES (\(token.name), \(token.tokenHash), \(token.hint), \(APIScope.list(token.scopes)), \(token.rateLimit), \(token.dailyQuota),
                        \(token.createdAt))
                ON CONFLICT DO NOTHING RETURNING id
                """, logger: self.logger).first()
        }
        guard let row else { throw StorageError.invalid("a token named \(token.name) exists; revoke it first or choose another name") }
        var created = token
        created.id = try row.value("id", as: Int64.self)
        return created
    }

    public func apiTokens() async throws -> [APITokenRecord] {
        try await connection { connection in
            try await connection.query("SELECT * FROM api_token ORDER BY id", logger: self.logger).rows().map { try $0.apiToken() }
        }
    }

    public func apiToken(hash: String) async throws -> APITokenRecord? {
        try await connection { connection in
            try await connection.query("SELECT * FROM api_token WHERE token_hash = \(hash)", logger: self.logger).first()?.apiToken()
        }
    }

    public func revokeToken(name: String, now: Timestamp) async throws -> Bool {
        try await connection { connection in
            try await connection.query("""
                UPDATE api_token SET revoked_at = \(now) WHERE name = \(name) AND revoked_at IS NULL RETURNING id
                """, logger: self.logger).first() != nil
        }
    }

    public func touchToken(id: Int64, now: Timestamp) async throws {
        try await execute("UPDATE api_token SET last_used_at = \(now) WHERE id = \(id)")
    }

    public func jobCount(tokenID: Int64, day: Int64) async throws -> Int {
        try await connection { connection in
            let row = try await connection.query("SELECT documents FROM api_usage WHERE token_id = \(tokenID) AND day = \(day)",
                                                 logger: self.logger).first()
            return Int(try row?.value("documents", as: Int64.self) ?? 0)
        }
    }

    public func spending(since: Timestamp) async throws -> [Spending] {
        try await connection { connection in
            try await connection.query("""
                SELECT to_char(to_timestamp(at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, model, COUNT(*) AS calls,
                       SUM(input_tokens)::bigint AS input, SUM(output_tokens)::bigint AS output, SUM(cost_usd)::double precision AS cost
                FROM (SELECT COALESCE(finished_at, started_at) AS at, model, input_tokens, output_tokens, cost_usd FROM step
                      WHERE model IS NOT NULL OR cost_usd > 0
                      UNION ALL SELECT created_at, model, input_tokens, output_tokens, cost_usd FROM llm_usage) AS usage
                WHERE at >= \(since)
                GROUP BY day, model ORDER BY day, model
                """, logger: self.logger).rows().map {
                Spending(day: try $0.value("day"), model: try $0.value("model"), calls: Int(try $0.value("calls", as: Int64.self)),
                         inputTokens: Int(try $0.value("input", as: Int64.self)), outputTokens: Int(try $0.value("output", as: Int64.self)),
                         costUSD: try $0.value("cost"))
            }
        }
    }

    // MARK: Callbacks

    public func queueCallbackEvents(now: Timestamp) async throws -> Int {
        try await transaction { connection in
            let jobs = try await connection.query("""
                WITH due AS (
                    SELECT id FROM job WHERE callback_url IS NOT NULL AND callback_queued_at IS NULL AND state IN ('done', 'failed')
                    LIMIT 500 FOR UPDATE SKIP LOCKED),
                marked AS (
                    UPDATE job SET callback_queued_at = \(now) FROM due WHERE job.id = due.id
                    RETURNING job.id, job.code, job.state, job.token_id, job.callback_url)
                INSERT INTO callback (event_id, event, job_id, job_code, token_id, url, state, next_attempt_at, created_at)
                SELECT 'evt_' || replace(gen_random_uuid()::text, '-', ''), 'job.' || state, id, code, token_id, callback_url, 'pending', \(now), \(now)
                FROM marked RETURNING id
                """, logger: self.logger).rows().count
            let groups = try await connection.query("""
                WITH due AS (
                    SELECT g.id FROM job_group g
                    WHERE g.kind = 'api' AND (g.notified_at IS NULL OR g.notified_at < g.last_added_at)
                      AND EXISTS (SELECT 1 FROM job WHERE job.group_id = g.id AND callback_url IS NOT NULL)
                      AND NOT EXISTS (SELECT 1 FROM job WHERE job.group_id = g.id AND state NOT IN ('done', 'failed'))
                    FOR UPDATE SKIP LOCKED),
                marked AS (UPDATE job_group SET notified_at = \(now) FROM due WHERE job_group.id = due.id RETURNING job_group.id)
                INSERT INTO callback (event_id, event, group_id, token_id, url, state, next_attempt_at, created_at)
                SELECT 'evt_' || replace(gen_random_uuid()::text, '-', ''), 'group.done', marked.id,
                       (SELECT token_id FROM job WHERE job.group_id = marked.id ORDER BY id DESC LIMIT 1),
                       (SELECT callback_url FROM job WHERE job.group_id = marked.id AND callback_url IS NOT NULL ORDER BY id DESC LIMIT 1),
                       'pending', \(now), \(now)
                FROM marked RETURNING id
                """, logger: self.logger).rows().count
            return jobs + groups
        }
    }

    public func claimCallbacks(limit: Int, leaseSeconds: Double, now: Timestamp) async throws -> [CallbackRecord] {
        try await connection { connection in
            try await connection.query("""
                UPDATE callback SET sending_at = \(now), attempts = attempts + 1
                WHERE id IN (SELECT id FROM callback
                             WHERE state = 'pending' AND next_attempt_at <= \(now) AND (sending_at IS NULL OR sending_at <= \(now - leaseSeconds))
                             ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING *
                """, logger: self.logger).rows().map { try $0.callbackRecord() }
        }
    }

    public func keepCallbackPayload(id: Int64, payload: Data) async throws -> Data {
        try await connection { connection in
            try await connection.query("UPDATE callback SET payload = COALESCE(payload, \(payload)) WHERE id = \(id) RETURNING payload",
                                       logger: self.logger).first()?.value("payload", as: Data?.self) ?? payload
        }
    }

    public func callbackDelivered(id: Int64, now: Timestamp) async throws {
        try await execute("UPDATE callback SET state = 'delivered', delivered_at = \(now), sending_at = NULL, last_error = NULL WHERE id = \(id)")
    }

    public func callbackFailed(id: Int64, error: String, retryAt: Timestamp?, now: Timestamp) async throws {
        let state = retryAt == nil ? CallbackState.failed.rawValue : CallbackState.pending.rawValue
        try await execute("""
            UPDATE callback SET state = \(state), next_attempt_at = COALESCE(\(retryAt), next_attempt_at), last_error = \(error), sending_at = NULL
            WHERE id = \(id)
            """)
    }

    public func callbacks(jobID: Int64) async throws -> [CallbackRecord] {
        try await connection { connection in
            try await connection.query("""
                SELECT * FROM callback WHERE job_id = \(jobID) OR group_id = (SELECT group_id FROM job WHERE id = \(jobID)) ORDER BY id
                """, logger: self.logger).rows().map { try $0.callbackRecord() }
        }
    }

    public func nextCallbackDue() async throws -> Timestamp? {
        try await connection { connection in
            try await connection.query("SELECT MIN(next_attempt_at) AS due FROM callback WHERE state = 'pending'", logger: self.logger)
                .first()?.value("due", as: Double?.self)
        }
    }
}

extension PostgresRandomAccessRow {
    func apiToken() throws -> APITokenRecord {
        APITokenRecord(id: try value("id", as: Int64.self), name: try value("name"), tokenHash: try value("token_hash"), hint: try value("hint"),
                       scopes: APIScope.parse(try value("scopes")) ?? [], rateLimit: try value("rate_limit"),
                       dailyQuota: try value("daily_quota", as: Int32?.self).map(Int.init), createdAt: try value("created_at"),
                       revokedAt: try value("revoked_at"), lastUsedAt: try value("last_used_at"))
    }

    func callbackRecord() throws -> CallbackRecord {
        CallbackRecord(id: try value("id", as: Int64.self), eventID: try value("event_id"), event: try value("event"), jobID: try value("job_id"), jobCode: try value("job_code"),
                       groupID: try value("group_id"), tokenID: try value("token_id"), url: try value("url"), payload: try value("payload"),
                       state: CallbackState(rawValue: try value("state")) ?? .pending, attempts: Int(try value("attempts", as: Int32.self)),
                       nextAttemptAt: try value("next_attempt_at"), lastError: try value("last_error"), createdAt: try value("created_at"),
                       deliveredAt: try value("delivered_at"))
    }
}
