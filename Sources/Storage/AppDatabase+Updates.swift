import Foundation
import GRDB

/// The `UpdateInbox`: Telegram updates as received, handled once, in order per chat.
extension AppDatabase: UpdateInbox {
    // MARK: Updates

    /// Many updates in one transaction (a `getUpdates` page); returns how many were new.
    public func recordUpdates(_ updates: [(id: Int64, chatID: Int64?, payload: Data)], now: Timestamp = .now) async throws -> Int {
        try await write { db in
            var new = 0
            let statement = try db.cachedStatement(sql: """
                INSERT INTO telegramUpdate (updateID, chatID, payload, state, receivedAt, attempts, nextAttemptAt)
                VALUES (?, ?, ?, 'pending', ?, 0, ?) ON CONFLICT(updateID) DO NOTHING
                """)
            for update in updates {
                try statement.execute(arguments: [update.id, update.chatID, update.payload, now, now])
                new += db.changesCount
            }
            return new
        }
    }

    public func pendingUpdates(limit: Int = 50) async throws -> [TelegramUpdateRecord] {
        try await read { db in
            try TelegramUpdateRecord.fetchAll(db, sql: "SELECT * FROM telegramUpdate WHERE state = 'pending' ORDER BY updateID LIMIT ?", arguments: [limit])
        }
    }

    /// The update each chat must handle next, where it is due: the oldest pending one of its chat (an update
    /// that names no chat stands alone). A chat whose oldest update waits for a retry is not in the list.
    public func dueUpdateHeads(limit: Int = 200, now: Timestamp = .now) async throws -> [TelegramUpdateRecord] {
        try await read { db in
            try TelegramUpdateRecord.fetchAll(db, sql: """
                SELECT * FROM telegramUpdate AS u WHERE u.state = 'pending' AND u.nextAttemptAt <= ?
                  AND (u.chatID IS NULL OR NOT EXISTS (SELECT 1 FROM telegramUpdate AS p
                       WHERE p.state = 'pending' AND p.chatID = u.chatID AND p.updateID < u.updateID))
                ORDER BY u.updateID LIMIT ?
                """, arguments: [now, limit])
        }
    }

    /// The chat's oldest pending update if it is due now (nil when there is none or it waits for a retry).
    public func nextDueUpdate(chatID: Int64, now: Timestamp = .now) async throws -> TelegramUpdateRecord? {
        try await read { db in
            let head = try TelegramUpdateRecord.fetchOne(db, sql: """
                SELECT * FROM telegramUpdate WHERE state = 'pending' AND chatID = ? ORDER BY updateID LIMIT 1
                """, arguments: [chatID])
            return head.flatMap { $0.nextAttemptAt <= now ? $0 : nil }
        }
    }

    /// "Try again later": the update stays pending, and so does everything after it in its chat.
    public func postponeUpdate(id: Int64, until: Timestamp, reason: String) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE telegramUpdate SET attempts = attempts + 1, nextAttemptAt = ?, error = ? WHERE updateID = ?",
                           arguments: [until, reason, id])
        }
    }

    /// When the earliest postponed update is due (nil when none waits).
    public func nextUpdateDue() async throws -> Timestamp? {
        try await read { db in try Double.fetchOne(db, sql: "SELECT MIN(nextAttemptAt) FROM telegramUpdate WHERE state = 'pending'") }
    }

    public func finishUpdate(id: Int64, error: String? = nil, now: Timestamp = .now) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE telegramUpdate SET state = ?, processedAt = ?, error = ? WHERE updateID = ?",
                           arguments: [error == nil ? "done" : "failed", now, error, id])
        }
    }

    public func recordedUpdateCount() async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM telegramUpdate") ?? 0 }
    }

    /// The highest update id seen, for `getUpdates` offsets after a restart.
    public func lastUpdateID() async throws -> Int64? {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT MAX(updateID) FROM telegramUpdate") }
    }
}
