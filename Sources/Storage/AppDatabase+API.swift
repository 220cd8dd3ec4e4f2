import Foundation
import GRDB

/// The `APIStore`: tokens, a token's job count, and spend by day and model.
extension AppDatabase: APIStore {
    public func createToken(_ token: APITokenRecord) async throws -> APITokenRecord {
        try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM apiToken WHERE name = ? AND revokedAt IS NULL", arguments: [token.name]) == true {
                throw StorageError.invalid("a token named \(token.name) exists; revoke it first or choose another name")
            }
            try db.execute(sql: """
                INSERT INTO apiToken (name, tokenHash, hint, scopes, rateLimit, dailyQuota, createdAt) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [token.name, token.tokenHash, token.hint, APIScope.list(token.scopes), token.rateLimit, token.dailyQuota, token.createdAt])
            var created = token
            created.id = db.lastInsertedRowID
            return created
        }
    }

    public func apiTokens() async throws -> [APITokenRecord] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM apiToken ORDER BY id").map(Self.token) }
    }

    public func apiToken(hash: String) async throws -> APITokenRecord? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM apiToken WHERE tokenHash = ?"), arguments: [hash]).map(Self.token)
        }
    }

    public func revokeToken(name: String, now: Timestamp) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE apiToken SET revokedAt = ? WHERE name = ? AND revokedAt IS NULL", arguments: [now, name])
            return db.changesCount > 0
        }
    }

    public func touchToken(id: Int64, now: Timestamp) async throws {
        try await write { db in try db.execute(sql: "UPDATE apiToken SET lastUsedAt = ? WHERE id = ?", arguments: [now, id]) }
    }

    public func jobCount(tokenID: Int64, day: Int64) async throws -> Int {
        try await read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT documents FROM apiUsage WHERE tokenID = ? AND day = ?"), arguments: [tokenID, day]) ?? 0
        }
    }

    public func spending(since: Timestamp) async throws -> [Spending] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT date(at, 'unixepoch') AS day, model, COUNT(*) AS calls, SUM(inputTokens) AS input, SUM(outputTokens) AS output,
                       SUM(costUSD) AS cost
                FROM (SELECT COALESCE(finishedAt, startedAt) AS at, model, inputTokens, outputTokens, costUSD FROM step
                      WHERE model IS NOT NULL OR costUSD > 0
                      UNION ALL SELECT createdAt, model, inputTokens, outputTokens, costUSD FROM llmUsage)
                WHERE at >= ?
                GROUP BY day, model ORDER BY day, model
                """, arguments: [since]).map {
                Spending(day: $0["day"], model: $0["model"], calls: $0["calls"], inputTokens: $0["input"], outputTokens: $0["output"], costUSD: $0["cost"])
            }
        }
    }

    private static func token(_ row: Row) -> APITokenRecord {
        APITokenRecord(id: row["id"], name: row["name"], tokenHash: row["tokenHash"], hint: row["hint"],
                       scopes: APIScope.parse(row["scopes"]) ?? [], rateLimit: row["rateLimit"], dailyQuota: row["dailyQuota"],
                       createdAt: row["createdAt"], revokedAt: row["revokedAt"], lastUsedAt: row["lastUsedAt"])
    }
}
