import Foundation
import PostgresNIO
import Storage

/// The `Whitelist`, the `UsageLedger` and the chats' settings on PostgreSQL.
extension PostgresDatabase: Whitelist, UsageLedger, ChatSettingsStore {
    public func users() async throws -> [UserRecord] {
        try await connection { connection in
            try await connection.query("SELECT * FROM app_user ORDER BY id", logger: self.logger).rows().map(Self.user)
        }
    }

    public func user(id: Int64) async throws -> UserRecord? {
        try await connection { connection in
            try await connection.query("SELECT * FROM app_user WHERE id = \(id)", logger: self.logger).first().map(Self.user)
        }
    }

    private static func user(_ row: PostgresRandomAccessRow) throws -> UserRecord {
        UserRecord(id: try row.value("id"), role: UserRole(rawValue: try row.value("role")) ?? .user, addedBy: try row.value("added_by"),
                   createdAt: try row.value("created_at"))
    }

    public func allow(userID: Int64, role: UserRole, addedBy: Int64?, now: Timestamp) async throws {
        try await execute("""
            INSERT INTO app_user (id, role, added_by, created_at) VALUES (\(userID), \(role.rawValue), \(addedBy), \(now))
            ON CONFLICT (id) DO UPDATE SET role = excluded.role, added_by = excluded.added_by, created_at = excluded.created_at
            """)
    }

    public func deny(userID: Int64) async throws -> Bool {
        try await connection { connection in
            try await connection.query("DELETE FROM app_user WHERE id = \(userID) RETURNING id", logger: self.logger).first() != nil
        }
    }

    /// One statement: of two gateways answering the same stranger at once, one wins.
    public func mayAnswerStranger(userID: Int64, interval: Double, now: Timestamp) async throws -> Bool {
        try await connection { connection in
            try await connection.query("""
                INSERT INTO stranger_reply (user_id, replied_at) VALUES (\(userID), \(now))
                ON CONFLICT (user_id) DO UPDATE SET replied_at = excluded.replied_at
                WHERE stranger_reply.replied_at <= \(now - interval)
                RETURNING user_id
                """, logger: self.logger).first() != nil
        }
    }

    // MARK: Usage

    public func recordLLMUsage(purpose: String, groupID: Int64?, userID: Int64?, usage: StepUsage, now: Timestamp) async throws {
        try await execute("""
            INSERT INTO llm_usage (purpose, group_id, user_id, model, input_tokens, output_tokens, cost_usd, created_at)
            VALUES (\(purpose), \(groupID), \(userID), \(usage.model), \(Int64(usage.inputTokens)), \(Int64(usage.outputTokens)), \(usage.costUSD), \(now))
            """)
    }

    public func chatSettings(chatID: Int64) async throws -> ChatSettings {
        try await connection { connection in
            guard let row = try await connection.query("SELECT attach_searchable_pdf, album_mode FROM chat_setting WHERE chat_id = \(chatID)",
                                                       logger: self.logger).first() else { return ChatSettings() }
            let mode = try row.value("album_mode", as: String?.self)
            return ChatSettings(attachSearchablePDF: try row.value("attach_searchable_pdf"), albums: mode.flatMap(AlbumMode.init(rawValue:)) ?? .auto)
        }
    }

    public func setAttachSearchablePDF(_ attach: Bool, chatID: Int64, by userID: Int64, now: Timestamp) async throws {
        try await setChatSetting("attach_searchable_pdf", to: attach, chatID: chatID, by: userID, now: now)
    }

    public func setAlbumMode(_ mode: AlbumMode, chatID: Int64, by userID: Int64, now: Timestamp) async throws {
        try await setChatSetting("album_mode", to: mode.rawValue, chatID: chatID, by: userID, now: now)
    }

    /// One choice of the chat's row (made on first use), the others kept. `column` is one of ours, never input.
    private func setChatSetting(_ column: String, to value: some PostgresEncodable & Sendable, chatID: Int64, by userID: Int64,
                                now: Timestamp) async throws {
        try await execute("""
            INSERT INTO chat_setting (chat_id, \(unescaped: column), changed_by, changed_at) VALUES (\(chatID), \(value), \(userID), \(now))
            ON CONFLICT (chat_id) DO UPDATE SET \(unescaped: column) = excluded.\(unescaped: column), changed_by = excluded.changed_by,
                changed_at = excluded.changed_at
            """)
    }

    public func admitQuestion(userID: Int64, limit: Int, now: Timestamp) async throws -> Int? {
        let day = Int64(DashboardBuckets.startOfDay(now)), limit = Int32(clamping: limit)
        return try await transaction { connection in
            try await connection.query("DELETE FROM ask_quota WHERE user_id = \(userID) AND day < \(day)", logger: self.logger)
            guard limit > 0 else { return nil }
            return try await connection.query("""
                INSERT INTO ask_quota (user_id, day, count) VALUES (\(userID), \(day), 1)
                ON CONFLICT (user_id, day) DO UPDATE SET count = ask_quota.count + 1 WHERE ask_quota.count < \(limit)
                RETURNING count
                """, logger: self.logger).first().map { Int(try $0.value("count", as: Int32.self)) }
        }
    }

    public func stats() async throws -> GatewayStats {
        let jobs = try await jobCounts(groupID: nil)
        return try await connection { connection in
            let row = try await connection.query("""
                SELECT (SELECT COUNT(*) FROM document) AS documents, (SELECT COUNT(*) FROM app_user) AS users,
                       (SELECT COUNT(*) FROM outbox WHERE state = 'pending') AS pending,
                       COALESCE(SUM(input_tokens), 0)::bigint AS input, COALESCE(SUM(output_tokens), 0)::bigint AS output,
                       COALESCE(SUM(cost_usd), 0)::double precision AS cost
                FROM (SELECT input_tokens, output_tokens, cost_usd FROM step UNION ALL SELECT input_tokens, output_tokens, cost_usd FROM llm_usage) AS usage
                """, logger: self.logger).first()
            var unfinished: [String: Int] = [:]
            for step in try await connection.query("SELECT plugin, COUNT(*) AS count FROM step WHERE state <> 'done' GROUP BY plugin",
                                                   logger: self.logger).rows() {
                unfinished[try step.value("plugin")] = Int(try step.value("count", as: Int64.self))
            }
            func count(_ column: String) throws -> Int { Int(try row?.value(column, as: Int64.self) ?? 0) }
            return GatewayStats(jobs: jobs, documents: try count("documents"), users: try count("users"), inputTokens: try count("input"),
                                outputTokens: try count("output"), costUSD: try row?.value("cost", as: Double.self) ?? 0,
                                pendingReplies: try count("pending"), unfinishedSteps: unfinished)
        }
    }
}
