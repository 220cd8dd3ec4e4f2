import Foundation
import GRDB

/// The `Whitelist`.
extension AppDatabase: Whitelist {
    public func users() async throws -> [UserRecord] {
        try await read { db in try UserRecord.order(Column("id")).fetchAll(db) }
    }

    public func user(id: Int64) async throws -> UserRecord? {
        try await read { db in try UserRecord.fetchOne(db, key: id) }
    }

    /// Adds a user or changes their role.
    public func allow(userID: Int64, role: UserRole, addedBy: Int64?, now: Timestamp = .now) async throws {
        try await write { db in
            try UserRecord(id: userID, role: role, addedBy: addedBy, createdAt: now).save(db)
        }
    }

    /// Removes a user; false when they were not on the list.
    public func deny(userID: Int64) async throws -> Bool {
        try await write { db in try UserRecord.deleteOne(db, key: userID) }
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
}
