import Foundation
import GRDB

extension AppDatabase {
    // MARK: Updates

    /// Records an update durably; false when the same `update_id` was recorded before (Telegram resends).
    public func recordUpdate(id: Int64, chatID: Int64?, payload: Data, now: Timestamp = .now) async throws -> Bool {
        try await recordUpdates([(id, chatID, payload)], now: now) == 1
    }

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

    // MARK: Outbox

    /// Queues a reply unless one with the same key exists; true when queued now.
    @discardableResult
    public func enqueueReply(_ record: OutboxRecord) async throws -> Bool {
        try await write { db in try Self.enqueueReply(db, record) }
    }

    static func enqueueReply(_ db: Database, _ record: OutboxRecord) throws -> Bool {
        try db.execute(sql: """
            INSERT INTO outbox (chatID, kind, payload, dedupeKey, state, attempts, nextAttemptAt, createdAt)
            VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT(dedupeKey) DO NOTHING
            """, arguments: [record.chatID, record.kind, record.payload, record.dedupeKey, record.nextAttemptAt, record.createdAt])
        return db.changesCount == 1
    }

    public func dueReplies(limit: Int = 20, now: Timestamp = .now) async throws -> [OutboxRecord] {
        try await read { db in
            try OutboxRecord.fetchAll(db, sql: "SELECT * FROM outbox WHERE state = 'pending' AND nextAttemptAt <= ? ORDER BY id LIMIT ?",
                                      arguments: [now, limit])
        }
    }

    /// The chats whose next reply (their oldest unsent one) is due now. One chat's replies go in order, so a
    /// chat whose oldest reply waits out a rate limit or an outage is not listed, whatever else it has queued.
    public func chatsWithDueReplies(limit: Int = 200, now: Timestamp = .now) async throws -> [Int64] {
        try await read { db in
            try Int64.fetchAll(db, sql: """
                SELECT o.chatID FROM outbox AS o WHERE o.state = 'pending' AND o.nextAttemptAt <= ?
                  AND NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.state IN ('pending', 'sending') AND p.chatID = o.chatID AND p.id < o.id)
                ORDER BY o.id LIMIT ?
                """, arguments: [now, limit])
        }
    }

    /// The chat's oldest unsent reply if it is due now.
    public func nextDueReply(chatID: Int64, now: Timestamp = .now) async throws -> OutboxRecord? {
        try await read { db in
            let head = try OutboxRecord.fetchOne(db, sql: "SELECT * FROM outbox WHERE state IN ('pending', 'sending') AND chatID = ? ORDER BY id LIMIT 1",
                                                 arguments: [chatID])
            return head.flatMap { $0.state == .pending && $0.nextAttemptAt <= now ? $0 : nil }
        }
    }

    /// Marks a reply as being handed to Telegram, just before the call.
    public func beginSending(id: Int64) async throws {
        try await write { db in try db.execute(sql: "UPDATE outbox SET state = 'sending' WHERE id = ?", arguments: [id]) }
    }

    /// After a crash, replies caught mid-send may or may not have reached the chat. Anything the person asked
    /// for or must know (results, command answers, "I can't read that file") is sent again: a duplicate beats a
    /// lost answer. Acknowledgements and hints are not: a repeated "got it" is noise. Returns (resent, dropped).
    public func recoverInterruptedReplies() async throws -> (resent: Int, dropped: Int) {
        try await write { db in
            let noise = "(dedupeKey LIKE 'ack:%' OR dedupeKey LIKE 'hint:%' OR dedupeKey LIKE 'stranger:%')"
            try db.execute(sql: "UPDATE outbox SET state = 'pending' WHERE state = 'sending' AND NOT \(noise)")
            let resent = db.changesCount
            try db.execute(sql: "UPDATE outbox SET state = 'failed', lastError = 'interrupted mid-send; not repeated' WHERE state = 'sending'")
            return (resent, db.changesCount)
        }
    }

    public func markReplySent(id: Int64, now: Timestamp = .now) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE outbox SET state = 'sent', sentAt = ?, attempts = attempts + 1 WHERE id = ?", arguments: [now, id])
        }
    }

    /// A send that did not go through: tried again at `retryAt`, or ended in `final` (`failed` when Telegram
    /// refused it for good, `undelivered` when it stayed unreachable past the delivery horizon).
    public func markReplyFailed(id: Int64, error: String, retryAt: Timestamp?, final: OutboxState = .failed) async throws {
        try await write { db in
            if let retryAt {
                try db.execute(sql: "UPDATE outbox SET state = 'pending', attempts = attempts + 1, nextAttemptAt = ?, lastError = ? WHERE id = ?",
                               arguments: [retryAt, error, id])
            } else {
                try db.execute(sql: "UPDATE outbox SET state = ?, attempts = attempts + 1, lastError = ? WHERE id = ?", arguments: [final, error, id])
            }
        }
    }

    /// Replies by state, for `/metrics`.
    public func replyCounts() async throws -> [OutboxState: Int] {
        try await read { db in
            var counts: [OutboxState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) FROM outbox GROUP BY state") {
                if let state = OutboxState(rawValue: row[0]) { counts[state] = row[1] }
            }
            return counts
        }
    }

    /// The reply that carries a job's result (its own, or its album's), once one is queued.
    public func resultReply(jobID: Int64, groupID: Int64?) async throws -> OutboxRecord? {
        try await read { db in
            try OutboxRecord.fetchOne(db, sql: "SELECT * FROM outbox WHERE dedupeKey IN (?, ?) ORDER BY id LIMIT 1",
                                      arguments: ["result:job:\(jobID)", "result:album:\(groupID ?? -1)"])
        }
    }

    public func replies(chatID: Int64? = nil) async throws -> [OutboxRecord] {
        try await read { db in
            if let chatID { return try OutboxRecord.fetchAll(db, sql: "SELECT * FROM outbox WHERE chatID = ? ORDER BY id", arguments: [chatID]) }
            return try OutboxRecord.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY id")
        }
    }

    public func nextReplyDue() async throws -> Timestamp? {
        try await read { db in try Double.fetchOne(db, sql: "SELECT MIN(nextAttemptAt) FROM outbox WHERE state = 'pending'") }
    }

    // MARK: Telling requesters

    /// Telegram jobs whose requester has not been told and that are finished or past `answerStep` (the
    /// step whose output is the answer), outside albums (those get one reply).
    public func unnotifiedJobs(answerStep: String, limit: Int = 20) async throws -> [JobDetails] {
        try await read { db in
            let jobs = try JobRecord.fetchAll(db, sql: """
                SELECT job.* FROM job LEFT JOIN jobGroup ON jobGroup.id = job.groupID
                WHERE job.origin = 'telegram' AND job.notifiedAt IS NULL
                  AND (job.state IN ('done', 'failed')
                       OR EXISTS (SELECT 1 FROM step WHERE step.jobID = job.id AND step.plugin = ? AND step.state = 'done'))
                  AND (jobGroup.kind IS NULL OR jobGroup.kind != 'album')
                ORDER BY job.id LIMIT ?
                """, arguments: [answerStep, limit])
            return try jobs.map { try Self.details(db, $0) }
        }
    }

    /// Queues the reply and marks the job told, in one transaction: the reply is queued exactly once.
    public func notify(jobID: Int64, reply: OutboxRecord, now: Timestamp = .now) async throws {
        try await write { db in
            _ = try Self.enqueueReply(db, reply)
            try db.execute(sql: "UPDATE job SET notifiedAt = ? WHERE id = ?", arguments: [now, jobID])
        }
    }

    /// Albums whose every job is finished and to which nothing was added for `quiet` seconds.
    public func completedAlbums(quiet: Double, answerStep: String, now: Timestamp = .now) async throws -> [(group: GroupRecord, jobs: [JobDetails])] {
        try await read { db in
            let groups = try GroupRecord.fetchAll(db, sql: """
                SELECT * FROM jobGroup WHERE kind = 'album' AND notifiedAt IS NULL AND lastAddedAt <= ?
                  AND NOT EXISTS (SELECT 1 FROM job WHERE job.groupID = jobGroup.id AND job.state NOT IN ('done', 'failed')
                      AND NOT EXISTS (SELECT 1 FROM step WHERE step.jobID = job.id AND step.plugin = ? AND step.state = 'done'))
                """, arguments: [now - quiet, answerStep])
            return try groups.map { group in
                let jobs = try JobRecord.fetchAll(db, sql: "SELECT * FROM job WHERE groupID = ? ORDER BY messageID, id", arguments: [group.id])
                return (group, try jobs.map { try Self.details(db, $0) })
            }
        }
    }

    public func notify(groupID: Int64, reply: OutboxRecord, now: Timestamp = .now) async throws {
        try await write { db in
            _ = try Self.enqueueReply(db, reply)
            try db.execute(sql: "UPDATE jobGroup SET notifiedAt = ? WHERE id = ?", arguments: [now, groupID])
            try db.execute(sql: "UPDATE job SET notifiedAt = ? WHERE groupID = ?", arguments: [now, groupID])
        }
    }

    public func touchGroup(id: Int64, now: Timestamp = .now) async throws {
        try await write { db in try db.execute(sql: "UPDATE jobGroup SET lastAddedAt = ? WHERE id = ?", arguments: [now, id]) }
    }

    /// Recent jobs of a chat, newest first (for `/report` and `/jobs`).
    public func recentJobs(chatID: Int64, limit: Int) async throws -> [JobDetails] {
        try await read { db in
            let jobs = try JobRecord.fetchAll(db, sql: "SELECT * FROM job WHERE chatID = ? ORDER BY id DESC LIMIT ?", arguments: [chatID, limit])
            return try jobs.map { try Self.details(db, $0) }
        }
    }

    // MARK: Strangers

    /// True (and remembered) when a stranger may be answered now: once per `interval` seconds.
    public func mayAnswerStranger(userID: Int64, interval: Double, now: Timestamp = .now) async throws -> Bool {
        try await write { db in
            if let last = try Double.fetchOne(db, sql: "SELECT repliedAt FROM strangerReply WHERE userID = ?", arguments: [userID]),
               now - last < interval {
                return false
            }
            try db.execute(sql: "INSERT INTO strangerReply (userID, repliedAt) VALUES (?, ?) ON CONFLICT(userID) DO UPDATE SET repliedAt = excluded.repliedAt",
                           arguments: [userID, now])
            return true
        }
    }

    // MARK: Stats

    public struct Stats: Sendable {
        public var jobs: [JobState: Int]
        public var documents: Int
        public var users: Int
        public var inputTokens: Int
        public var outputTokens: Int
        public var costUSD: Double
        public var pendingReplies: Int
        /// Steps not done yet, by plugin (`archive` waiting for the store shows here).
        public var unfinishedSteps: [String: Int]
    }

    public func stats() async throws -> Stats {
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
            return Stats(jobs: jobs,
                         documents: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM document") ?? 0,
                         users: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM user") ?? 0,
                         inputTokens: usage?[0] ?? 0, outputTokens: usage?[1] ?? 0, costUSD: usage?[2] ?? 0,
                         pendingReplies: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE state = 'pending'") ?? 0,
                         unfinishedSteps: unfinished)
        }
    }

    /// Records an LLM call that is not a job's step (a report's summary), so `/stats` counts it.
    public func recordLLMUsage(purpose: String, groupID: Int64?, usage: StepUsage, now: Timestamp = .now) async throws {
        try await write { db in
            try db.execute(sql: "INSERT INTO llmUsage (purpose, groupID, model, inputTokens, outputTokens, costUSD, createdAt) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [purpose, groupID, usage.model, usage.inputTokens, usage.outputTokens, usage.costUSD, now])
        }
    }
}
