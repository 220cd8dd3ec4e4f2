import Foundation
import GRDB

/// The `UsageLedger`.
extension AppDatabase: UsageLedger {
    // MARK: Stats

    public func stats() async throws -> GatewayStats {
        let jobs = try await jobCounts()
        return try await read { db in
            let usage = try Row.fetchOne(db, sql: """
                SELECT COALESCE(SUM(inputTokens),0), COALESCE(SUM(outputTokens),0), COALESCE(SUM(costUSD),0)
                FROM (SELECT inputTokens, outputTokens, costUSD FROM step UNION ALL SELECT inputTokens, outputTokens, costUSD FROM llmUsage)
                """)
            var unfinished: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT plugin, COUNT(*) FROM step WHERE state != 'done' GROUP BY plugin") {
                unfinished[row[0]] = row[1]
            }
            return GatewayStats(jobs: jobs,
                         documents: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM document") ?? 0,
                         users: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM user") ?? 0,
                         inputTokens: usage?[0] ?? 0, outputTokens: usage?[1] ?? 0, costUSD: usage?[2] ?? 0,
                         pendingReplies: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE state = 'pending'") ?? 0,
                         unfinishedSteps: unfinished)
        }
    }

    /// Records an LLM call that is not a job's step (a report's summary, an answer to `/ask`), so `/stats` counts it.
    public func recordLLMUsage(purpose: String, groupID: Int64?, userID: Int64?, usage: StepUsage, now: Timestamp) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO llmUsage (purpose, groupID, userID, model, inputTokens, outputTokens, costUSD, createdAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [purpose, groupID, userID, usage.model, usage.inputTokens, usage.outputTokens, usage.costUSD, now])
        }
    }

    /// One upsert: the day's row is made or counted up only while under the limit (no row comes back at the limit).
    public func admitQuestion(userID: Int64, limit: Int, now: Timestamp = .now) async throws -> Int? {
        let day = Int64(DashboardBuckets.startOfDay(now))
        return try await write { db in
            try db.execute(sql: "DELETE FROM askQuota WHERE userID = ? AND day < ?", arguments: [userID, day])
            guard limit > 0 else { return nil }
            return try Int.fetchOne(db, sql: """
                INSERT INTO askQuota (userID, day, count) VALUES (?1, ?2, 1)
                ON CONFLICT (userID, day) DO UPDATE SET count = askQuota.count + 1 WHERE askQuota.count < ?3
                RETURNING count
                """, arguments: [userID, day, limit])
        }
    }
}

/// The `ChatSettingsStore`.
extension AppDatabase: ChatSettingsStore {
    public func chatSettings(chatID: Int64) async throws -> ChatSettings {
        try await read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT attachSearchablePDF, albumMode FROM chatSetting WHERE chatID = ?", arguments: [chatID]) else {
                return ChatSettings()
            }
            let mode: String? = row["albumMode"]
            return ChatSettings(attachSearchablePDF: row["attachSearchablePDF"], albums: mode.flatMap(AlbumMode.init(rawValue:)) ?? .auto)
        }
    }

    public func setAttachSearchablePDF(_ attach: Bool, chatID: Int64, by userID: Int64, now: Timestamp) async throws {
        try await setChatSetting("attachSearchablePDF", to: attach, chatID: chatID, by: userID, now: now)
    }

    public func setAlbumMode(_ mode: AlbumMode, chatID: Int64, by userID: Int64, now: Timestamp) async throws {
        try await setChatSetting("albumMode", to: mode.rawValue, chatID: chatID, by: userID, now: now)
    }

    /// One choice of the chat's row (made on first use), the others kept. `column` is one of ours, never input.
    private func setChatSetting(_ column: String, to value: some DatabaseValueConvertible & Sendable, chatID: Int64, by userID: Int64,
                                now: Timestamp) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO chatSetting (chatID, \(column), changedBy, changedAt) VALUES (?, ?, ?, ?)
                ON CONFLICT (chatID) DO UPDATE SET \(column) = excluded.\(column), changedBy = excluded.changedBy, changedAt = excluded.changedAt
                """, arguments: [chatID, value, userID, now])
        }
    }
}

/// Counts for `/stats`.
public struct GatewayStats: Sendable {
    public var jobs: [JobState: Int]
    public var documents: Int
    public var users: Int
    public var inputTokens: Int
    public var outputTokens: Int
    public var costUSD: Double
    public var pendingReplies: Int
    /// Steps not done yet, by plugin (`archive` waiting for the store shows here).
    public var unfinishedSteps: [String: Int]

    public init(jobs: [JobState: Int], documents: Int, users: Int, inputTokens: Int, outputTokens: Int, costUSD: Double, pendingReplies: Int,
                unfinishedSteps: [String: Int]) {
        self.jobs = jobs
        self.documents = documents
        self.users = users
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
        self.pendingReplies = pendingReplies
        self.unfinishedSteps = unfinishedSteps
    }
}
