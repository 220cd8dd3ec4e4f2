import Foundation
import GRDB

/// The `ReplyOutbox`: replies waiting to be sent, and the sweeper's "who has not been told".
extension AppDatabase: ReplyOutbox {
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

    /// One process owns the SQLite file (the data folder's lock).
    public var isShared: Bool { false }

    /// Marks a reply as being handed to Telegram, just before the call.
    public func beginSending(id: Int64, now: Timestamp) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE outbox SET state = 'sending' WHERE id = ? AND state = 'pending'", arguments: [id])
            return db.changesCount == 1
        }
    }

    /// After a crash, replies caught mid-send may or may not have reached the chat. Anything the person asked
    /// for or must know (results, command answers, "I can't read that file") is sent again: a duplicate beats a
    /// lost answer. Acknowledgements and hints are not: a repeated "got it" is noise. Returns (resent, dropped).
    /// This process is the file's only sender, so at start (`olderThan` 0) every reply marked sending was
    /// interrupted, and later none is.
    public func recoverInterruptedReplies(olderThan: Double, now: Timestamp) async throws -> (resent: Int, dropped: Int) {
        guard olderThan == 0 else { return (0, 0) }
        return try await write { db in
            let noise = "(" + ReplyKey.notRepeated.map { "dedupeKey LIKE '\($0)%'" }.joined(separator: " OR ") + ")"
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
                                      arguments: [ReplyKey.result(jobID: jobID), ReplyKey.result(albumID: groupID ?? -1)])
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
    public func notify(jobID: Int64, replies: [OutboxRecord], now: Timestamp) async throws {
        try await write { db in
            for reply in replies { _ = try Self.enqueueReply(db, reply) }
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

    public func notify(groupID: Int64, replies: [OutboxRecord], now: Timestamp) async throws {
        try await write { db in
            for reply in replies { _ = try Self.enqueueReply(db, reply) }
            try db.execute(sql: "UPDATE jobGroup SET notifiedAt = ? WHERE id = ?", arguments: [now, groupID])
            try db.execute(sql: "UPDATE job SET notifiedAt = ? WHERE groupID = ?", arguments: [now, groupID])
        }
    }
}
