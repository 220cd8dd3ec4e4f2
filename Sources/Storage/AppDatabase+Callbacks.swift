import Foundation
import GRDB

/// The `CallbackOutbox`. SQLite serialises writers, so a claim is a plain update inside the write transaction.
extension AppDatabase: CallbackOutbox {
    public func queueCallbackEvents(now: Timestamp) async throws -> Int {
        try await write { db in
            let jobs = try Row.fetchAll(db, sql: """
                SELECT id, code, state, tokenID, callbackURL FROM job
                WHERE callbackURL IS NOT NULL AND callbackQueuedAt IS NULL AND state IN ('done', 'failed') LIMIT 500
                """)
            let insert = try db.cachedStatement(sql: """
                INSERT INTO callback (eventID, event, jobID, jobCode, groupID, tokenID, url, state, nextAttemptAt, createdAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                """)
            for job in jobs {
                let state: String = job["state"]
                try insert.execute(arguments: [Self.eventID(), "job.\(state)", job["id"], job["code"], nil, job["tokenID"], job["callbackURL"], now, now])
                try db.execute(sql: "UPDATE job SET callbackQueuedAt = ? WHERE id = ?", arguments: [now, job["id"]])
            }
            // An API group is over when none of its jobs is left to run, once per batch of additions.
            let groups = try Row.fetchAll(db, sql: """
                SELECT g.id,
                       (SELECT callbackURL FROM job WHERE job.groupID = g.id AND callbackURL IS NOT NULL ORDER BY id DESC LIMIT 1) AS url,
                       (SELECT tokenID FROM job WHERE job.groupID = g.id ORDER BY id DESC LIMIT 1) AS tokenID
                FROM jobGroup g
                WHERE g.kind = 'api' AND (g.notifiedAt IS NULL OR g.notifiedAt < g.lastAddedAt)
                  AND EXISTS (SELECT 1 FROM job WHERE job.groupID = g.id AND callbackURL IS NOT NULL)
                  AND NOT EXISTS (SELECT 1 FROM job WHERE job.groupID = g.id AND state NOT IN ('done', 'failed'))
                """)
            for group in groups {
                try insert.execute(arguments: [Self.eventID(), "group.done", nil, nil, group["id"], group["tokenID"], group["url"], now, now])
                try db.execute(sql: "UPDATE jobGroup SET notifiedAt = ? WHERE id = ?", arguments: [now, group["id"]])
            }
            return jobs.count + groups.count
        }
    }

    public func claimCallbacks(limit: Int, leaseSeconds: Double, now: Timestamp) async throws -> [CallbackRecord] {
        try await write { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM callback WHERE state = 'pending' AND nextAttemptAt <= ? AND (sendingAt IS NULL OR sendingAt <= ?)
                ORDER BY nextAttemptAt LIMIT ?
                """, arguments: [now, now - leaseSeconds, limit])
            var claimed: [CallbackRecord] = []
            for row in rows {
                var record = Self.callback(row)
                record.attempts += 1
                try db.execute(sql: "UPDATE callback SET sendingAt = ?, attempts = ? WHERE id = ?", arguments: [now, record.attempts, record.id])
                claimed.append(record)
            }
            return claimed
        }
    }

    public func keepCallbackPayload(id: Int64, payload: Data) async throws -> Data {
        try await write { db in
            try db.execute(sql: "UPDATE callback SET payload = ? WHERE id = ? AND payload IS NULL", arguments: [payload, id])
            return try Data.fetchOne(db, sql: "SELECT payload FROM callback WHERE id = ?", arguments: [id]) ?? payload
        }
    }

    public func callbackDelivered(id: Int64, now: Timestamp) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE callback SET state = 'delivered', deliveredAt = ?, sendingAt = NULL, lastError = NULL WHERE id = ?",
                           arguments: [now, id])
        }
    }

    public func callbackFailed(id: Int64, error: String, retryAt: Timestamp?, now: Timestamp) async throws {
        try await write { db in
            try db.execute(sql: """
                UPDATE callback SET state = ?, nextAttemptAt = COALESCE(?, nextAttemptAt), lastError = ?, sendingAt = NULL WHERE id = ?
                """, arguments: [retryAt == nil ? CallbackState.failed.rawValue : CallbackState.pending.rawValue, retryAt, error, id])
        }
    }

    public func callbacks(jobID: Int64) async throws -> [CallbackRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM callback WHERE jobID = ?1 OR groupID = (SELECT groupID FROM job WHERE id = ?1) ORDER BY id
                """, arguments: [jobID]).map(Self.callback)
        }
    }

    public func nextCallbackDue() async throws -> Timestamp? {
        try await read { db in try Timestamp.fetchOne(db, sql: "SELECT MIN(nextAttemptAt) FROM callback WHERE state = 'pending'") }
    }

    /// A random event id (128 bits, hex).
    static func eventID() -> String {
        "evt_" + (0..<16).map { _ in UInt8.random(in: 0...255) }.hexString
    }

    private static func callback(_ row: Row) -> CallbackRecord {
        CallbackRecord(id: row["id"], eventID: row["eventID"], event: row["event"], jobID: row["jobID"], jobCode: row["jobCode"], groupID: row["groupID"], tokenID: row["tokenID"],
                       url: row["url"], payload: row["payload"], state: CallbackState(rawValue: row["state"]) ?? .pending, attempts: row["attempts"],
                       nextAttemptAt: row["nextAttemptAt"], lastError: row["lastError"], createdAt: row["createdAt"], deliveredAt: row["deliveredAt"])
    }
}
