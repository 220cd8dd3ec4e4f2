import Foundation
import PostgresNIO
import Storage

/// The `UpdateInbox` and the `ReplyOutbox` on PostgreSQL. Updates are recorded once by `update_id` whichever
/// gateway receives them; a reply is claimed by one sender (`beginSending` moves it from pending to sending in
/// one statement), so two gateways never send the same reply.
extension PostgresDatabase: UpdateInbox, ReplyOutbox {
    // MARK: Updates

    public func recordUpdates(_ updates: [(id: Int64, chatID: Int64?, payload: Data)], now: Timestamp) async throws -> Int {
        let updates = updates.map { Update(id: $0.id, chatID: $0.chatID, payload: $0.payload) }
        return try await transaction { connection in
            var new = 0
            for update in updates {
                new += try await connection.query("""
                    INSERT INTO telegram_update (update_id, chat_id, payload, state, received_at, attempts, next_attempt_at)
                    VALUES (\(update.id), \(update.chatID), \(update.payload), 'pending', \(now), 0, \(now))
                    ON CONFLICT (update_id) DO NOTHING RETURNING update_id
                    """, logger: self.logger).rows().count
            }
            return new
        }
    }

    private struct Update: Sendable {
        var id: Int64
        var chatID: Int64?
        var payload: Data
    }

    public func dueUpdateHeads(limit: Int, now: Timestamp) async throws -> [TelegramUpdateRecord] {
        try await connection { connection in
            try await connection.query("""
                SELECT * FROM telegram_update AS u WHERE u.state = 'pending' AND u.next_attempt_at <= \(now)
                  AND (u.chat_id IS NULL OR NOT EXISTS (SELECT 1 FROM telegram_update AS p
                       WHERE p.state = 'pending' AND p.chat_id = u.chat_id AND p.update_id < u.update_id))
                ORDER BY u.update_id LIMIT \(limit)
                """, logger: self.logger).rows().map(Self.update)
        }
    }

    public func nextDueUpdate(chatID: Int64, now: Timestamp) async throws -> TelegramUpdateRecord? {
        try await connection { connection in
            let head = try await connection.query("""
                SELECT * FROM telegram_update WHERE state = 'pending' AND chat_id = \(chatID) ORDER BY update_id LIMIT 1
                """, logger: self.logger).first().map(Self.update)
            return head.flatMap { $0.nextAttemptAt <= now ? $0 : nil }
        }
    }

    public func postponeUpdate(id: Int64, until: Timestamp, reason: String) async throws {
        try await execute("""
            UPDATE telegram_update SET attempts = attempts + 1, next_attempt_at = \(until), error = \(reason) WHERE update_id = \(id)
            """)
    }

    public func nextUpdateDue() async throws -> Timestamp? {
        try await connection { connection in
            try await connection.query("SELECT MIN(next_attempt_at) AS due FROM telegram_update WHERE state = 'pending'", logger: self.logger)
                .first()?.value("due", as: Double?.self)
        }
    }

    public func finishUpdate(id: Int64, error: String?, now: Timestamp) async throws {
        try await execute("""
            UPDATE telegram_update SET state = \(error == nil ? "done" : "failed"), processed_at = \(now), error = \(error) WHERE update_id = \(id)
            """)
    }

    public func lastUpdateID() async throws -> Int64? {
        try await connection { connection in
            try await connection.query("SELECT MAX(update_id) AS last FROM telegram_update", logger: self.logger).first()?.value("last", as: Int64?.self)
        }
    }

    private static func update(_ row: PostgresRandomAccessRow) throws -> TelegramUpdateRecord {
        var update = TelegramUpdateRecord(updateID: try row.value("update_id"), chatID: try row.value("chat_id"), payload: try row.value("payload"),
                                          receivedAt: try row.value("received_at"))
        update.state = try row.value("state")
        update.processedAt = try row.value("processed_at")
        update.error = try row.value("error")
        update.attempts = try row.value("attempts")
        update.nextAttemptAt = try row.value("next_attempt_at")
        return update
    }

    // MARK: Replies

    /// Gateways on several machines may send from it at once.
    public var isShared: Bool { true }

    public func enqueueReply(_ record: OutboxRecord) async throws -> Bool {
        try await connection { connection in try await Self.enqueueReply(connection, record, logger: self.logger) }
    }

    static func enqueueReply(_ connection: PostgresConnection, _ record: OutboxRecord, logger: Logger) async throws -> Bool {
        try await connection.query("""
            INSERT INTO outbox (chat_id, kind, payload, dedupe_key, state, attempts, next_attempt_at, created_at)
            VALUES (\(record.chatID), \(record.kind), \(record.payload), \(record.dedupeKey), 'pending', 0, \(record.nextAttemptAt), \(record.createdAt))
            ON CONFLICT (dedupe_key) DO NOTHING RETURNING id
            """, logger: logger).first() != nil
    }

    public func chatsWithDueReplies(limit: Int, now: Timestamp) async throws -> [Int64] {
        try await connection { connection in
            try await connection.query("""
                SELECT o.chat_id FROM outbox AS o WHERE o.state = 'pending' AND o.next_attempt_at <= \(now)
                  AND NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.state IN ('pending', 'sending') AND p.chat_id = o.chat_id AND p.id < o.id)
                ORDER BY o.id LIMIT \(limit)
                """, logger: self.logger).rows().map { try $0.value("chat_id", as: Int64.self) }
        }
    }

    public func nextDueReply(chatID: Int64, now: Timestamp) async throws -> OutboxRecord? {
        try await connection { connection in
            let head = try await connection.query("""
                SELECT * FROM outbox WHERE state IN ('pending', 'sending') AND chat_id = \(chatID) ORDER BY id LIMIT 1
                """, logger: self.logger).first().map(Self.reply)
            return head.flatMap { $0.state == .pending && $0.nextAttemptAt <= now ? $0 : nil }
        }
    }

    public func beginSending(id: Int64, now: Timestamp) async throws -> Bool {
        try await connection { connection in
            try await connection.query("""
                UPDATE outbox SET state = 'sending', sending_at = \(now) WHERE id = \(id) AND state = 'pending' RETURNING id
                """, logger: self.logger).first() != nil
        }
    }

    public func recoverInterruptedReplies(olderThan: Double, now: Timestamp) async throws -> (resent: Int, dropped: Int) {
        let noise = ReplyKey.notRepeated.map { $0 + "%" }
        return try await transaction { connection in
            let resent = try await connection.query("""
                UPDATE outbox SET state = 'pending' WHERE state = 'sending' AND sending_at <= \(now - olderThan)
                  AND NOT (dedupe_key LIKE ANY(\(noise)::text[])) RETURNING id
                """, logger: self.logger).rows().count
            let dropped = try await connection.query("""
                UPDATE outbox SET state = 'failed', last_error = 'interrupted mid-send; not repeated'
                WHERE state = 'sending' AND sending_at <= \(now - olderThan) RETURNING id
                """, logger: self.logger).rows().count
            return (resent, dropped)
        }
    }

    public func markReplySent(id: Int64, now: Timestamp) async throws {
        try await execute("UPDATE outbox SET state = 'sent', sent_at = \(now), attempts = attempts + 1 WHERE id = \(id)")
    }

    public func markReplyFailed(id: Int64, error: String, retryAt: Timestamp?, final: OutboxState) async throws {
        if let retryAt {
            try await execute("""
                UPDATE outbox SET state = 'pending', attempts = attempts + 1, next_attempt_at = \(retryAt), last_error = \(error) WHERE id = \(id)
                """)
        } else {
            try await execute("UPDATE outbox SET state = \(final.rawValue), attempts = attempts + 1, last_error = \(error) WHERE id = \(id)")
        }
    }

    public func nextReplyDue() async throws -> Timestamp? {
        try await connection { connection in
            try await connection.query("SELECT MIN(next_attempt_at) AS due FROM outbox WHERE state = 'pending'", logger: self.logger)
                .first()?.value("due", as: Double?.self)
        }
    }

    public func replyCounts() async throws -> [OutboxState: Int] {
        try await connection { connection in
            var counts: [OutboxState: Int] = [:]
            for row in try await connection.query("SELECT state, COUNT(*) AS count FROM outbox GROUP BY state", logger: self.logger).rows() {
                if let state = OutboxState(rawValue: try row.value("state")) { counts[state] = Int(try row.value("count", as: Int64.self)) }
            }
            return counts
        }
    }

    public func resultReply(jobID: Int64, groupID: Int64?) async throws -> OutboxRecord? {
        try await connection { connection in
            try await connection.query("""
                SELECT * FROM outbox WHERE dedupe_key IN (\(ReplyKey.result(jobID: jobID)), \(ReplyKey.result(albumID: groupID ?? -1))) ORDER BY id LIMIT 1
                """, logger: self.logger).first().map(Self.reply)
        }
    }

    /// Every reply (of a chat), oldest first: for tests and tools.
    public func replies(chatID: Int64? = nil) async throws -> [OutboxRecord] {
        try await connection { connection in
            try await connection.query("SELECT * FROM outbox WHERE \(chatID)::bigint IS NULL OR chat_id = \(chatID) ORDER BY id", logger: self.logger)
                .rows().map(Self.reply)
        }
    }

    private static func reply(_ row: PostgresRandomAccessRow) throws -> OutboxRecord {
        var reply = OutboxRecord(chatID: try row.value("chat_id"), kind: try row.value("kind"), payload: try row.value("payload"),
                                 dedupeKey: try row.value("dedupe_key"), now: try row.value("created_at"))
        reply.id = try row.value("id")
        reply.state = OutboxState(rawValue: try row.value("state")) ?? .pending
        reply.attempts = try row.value("attempts")
        reply.nextAttemptAt = try row.value("next_attempt_at")
        reply.lastError = try row.value("last_error")
        reply.sentAt = try row.value("sent_at")
        return reply
    }

    // MARK: Telling requesters

    public func unnotifiedJobs(answerStep: String, limit: Int) async throws -> [JobDetails] {
        try await connection { connection in
            try await Self.details(connection, where: """
                id IN (SELECT job.id FROM job LEFT JOIN job_group ON job_group.id = job.group_id
                       WHERE job.origin = 'telegram' AND job.notified_at IS NULL
                         AND (job.state IN ('done', 'failed')
                              OR EXISTS (SELECT 1 FROM step WHERE step.job_id = job.id AND step.plugin = $1 AND step.state = 'done'))
                         AND (job_group.kind IS NULL OR job_group.kind <> 'album')
                       ORDER BY job.id LIMIT \(max(0, limit))) ORDER BY id
                """, answerStep, logger: self.logger)
        }
    }

    public func notify(jobID: Int64, replies: [OutboxRecord], now: Timestamp) async throws {
        try await transaction { connection in
            for reply in replies { _ = try await Self.enqueueReply(connection, reply, logger: self.logger) }
            try await connection.query("UPDATE job SET notified_at = \(now) WHERE id = \(jobID)", logger: self.logger)
        }
    }

    public func completedAlbums(quiet: Double, answerStep: String, now: Timestamp) async throws -> [(group: GroupRecord, jobs: [JobDetails])] {
        try await connection { connection in
            let groups = try await connection.query("""
                SELECT * FROM job_group WHERE kind = 'album' AND notified_at IS NULL AND last_added_at <= \(now - quiet)
                  AND NOT EXISTS (SELECT 1 FROM job WHERE job.group_id = job_group.id AND job.state NOT IN ('done', 'failed')
                      AND NOT EXISTS (SELECT 1 FROM step WHERE step.job_id = job.id AND step.plugin = \(answerStep) AND step.state = 'done'))
                ORDER BY id
                """, logger: self.logger).rows().map { try $0.groupRecord() }
            var albums: [(group: GroupRecord, jobs: [JobDetails])] = []
            for group in groups {
                albums.append((group, try await Self.details(connection, where: "group_id = $1 ORDER BY message_id, id", group.id, logger: self.logger)))
            }
            return albums
        }
    }

    public func notify(groupID: Int64, replies: [OutboxRecord], now: Timestamp) async throws {
        try await transaction { connection in
            for reply in replies { _ = try await Self.enqueueReply(connection, reply, logger: self.logger) }
            try await connection.query("UPDATE job_group SET notified_at = \(now) WHERE id = \(groupID)", logger: self.logger)
            try await connection.query("UPDATE job SET notified_at = \(now) WHERE group_id = \(groupID)", logger: self.logger)
        }
    }
}
