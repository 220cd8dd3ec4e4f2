import Foundation
import GRDB

extension AppDatabase {
    /// The group with this key, created on first use (a batch folder run again finds its group).
    public func group(kind: GroupKind, key: String, title: String, chatID: Int64? = nil, userID: Int64? = nil, now: Timestamp = .now) async throws -> GroupRecord {
        try await write { db in
            if let existing = try GroupRecord.filter(Column("key") == key).fetchOne(db) { return existing }
            var group = GroupRecord(id: nil, kind: kind, key: key, title: title, chatID: chatID, userID: userID,
                                    reportPath: nil, consolidatedAt: nil, createdAt: now, lastAddedAt: nil, notifiedAt: nil)
            try group.insert(db)
            return group
        }
    }

    public func markConsolidated(groupID: Int64, reportPath: String, now: Timestamp = .now) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE jobGroup SET reportPath = ?, consolidatedAt = ? WHERE id = ?", arguments: [reportPath, now, groupID])
        }
    }
}

extension AppDatabase {
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
}
