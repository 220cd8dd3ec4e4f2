import Foundation
import GRDB

/// The `PageSetStore`.
extension AppDatabase: PageSetStore {
    public func addPage(_ item: PageSetItem, to set: PageSetRecord, now: Timestamp) async throws -> (set: PageSetRecord, pages: Int) {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO pageSet (key, kind, chatID, userID, messageID, languageCode, mode, createdAt, lastAddedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING
                """, arguments: [set.key, set.kind.rawValue, set.chatID, set.userID, set.messageID, set.languageCode, set.mode.rawValue, now, now])
            guard let stored = try Self.pageSet(db, key: set.key), let id = stored.id else { throw StorageError.notFound("page set \(set.key)") }
            let document = item.document
            try db.execute(sql: """
                INSERT INTO pageSetItem (setID, sourceKey, messageID, sha256, format, mimeType, size, blobPath, originalName, addedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sourceKey) DO NOTHING
                """, arguments: [id, item.sourceKey, item.messageID, document.sha256, document.format, document.mimeType, document.size,
                                 document.blobPath, document.originalName, now])
            if db.changesCount > 0 {
                // The reply goes to the earliest message of the set, whichever update was handled first.
                try db.execute(sql: """
                    UPDATE pageSet SET lastAddedAt = ?, messageID = CASE WHEN messageID IS NULL OR ? < messageID THEN ? ELSE messageID END
                    WHERE id = ?
                    """, arguments: [now, item.messageID, item.messageID, id])
            }
            let pages = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM pageSetItem WHERE setID = ?", arguments: [id]) ?? 0
            return (try Self.pageSet(db, key: set.key) ?? stored, pages)
        }
    }

    public func openMergeSet(chatID: Int64, userID: Int64, languageCode: String?, now: Timestamp) async throws -> PageSetRecord {
        try await write { db in
            if let open = try Self.openMergeSet(db, chatID: chatID, userID: userID) { return open }
            let key = "merge:\(chatID):\(userID):\(Int64((now * 1000).rounded()))"
            try db.execute(sql: """
                INSERT INTO pageSet (key, kind, chatID, userID, messageID, languageCode, mode, createdAt, lastAddedAt)
                VALUES (?, 'merge', ?, ?, NULL, ?, 'merge', ?, ?) ON CONFLICT (key) DO NOTHING
                """, arguments: [key, chatID, userID, languageCode, now, now])
            guard let stored = try Self.pageSet(db, key: key) else { throw StorageError.notFound("page set \(key)") }
            return stored
        }
    }

    public func openMergeSet(chatID: Int64, userID: Int64) async throws -> PageSetRecord? {
        try await read { db in try Self.openMergeSet(db, chatID: chatID, userID: userID) }
    }

    public func closePageSet(id: Int64, now: Timestamp) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE pageSet SET closedAt = ? WHERE id = ? AND closedAt IS NULL", arguments: [now, id])
            return db.changesCount > 0
        }
    }

    public func claimReadyPageSets(albumQuiet: Double, mergeQuiet: Double, leaseSeconds: Double, limit: Int, now: Timestamp) async throws -> [PageSetRecord] {
        let sql = """
            SELECT * FROM pageSet
            WHERE (claimedUntil IS NULL OR claimedUntil < ?1)
              AND ((kind = 'album' AND lastAddedAt <= ?2
                    AND NOT EXISTS (SELECT 1 FROM telegramUpdate AS u WHERE u.state = 'pending' AND u.chatID = pageSet.chatID))
                   OR (kind = 'merge' AND (closedAt IS NOT NULL OR lastAddedAt <= ?3)))
            ORDER BY lastAddedAt LIMIT ?4
            """
        let arguments: StatementArguments = [now, now - albumQuiet, now - mergeQuiet, limit]
        // Looked for every second: a read while nothing is ready, so the sweep never queues behind the job claims for
        // the one writer.
        guard try await read({ db in try Bool.fetchOne(db, sql: "SELECT EXISTS (\(sql))", arguments: arguments) ?? false }) else { return [] }
        return try await write { db in
            let ready = try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.pageSet(row:))
            for set in ready {
                try db.execute(sql: "UPDATE pageSet SET claimedUntil = ? WHERE id = ?", arguments: [now + leaseSeconds, set.id])
            }
            return ready
        }
    }

    public func pages(ofSet id: Int64) async throws -> [PageSetItem] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM pageSetItem WHERE setID = ? ORDER BY messageID, id", arguments: [id]).map { row in
                let document = DocumentRecord(sha256: row["sha256"], format: row["format"], mimeType: row["mimeType"], size: row["size"],
                                              blobPath: row["blobPath"], originalName: row["originalName"], createdAt: row["addedAt"])
                return PageSetItem(document: document, messageID: row["messageID"], sourceKey: row["sourceKey"], addedAt: row["addedAt"])
            }
        }
    }

    public func removePageSet(id: Int64) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM pageSetItem WHERE setID = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM pageSet WHERE id = ?", arguments: [id])
        }
    }

    public func isPagePending(sha256: String) async throws -> Bool {
        try await read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM pageSetItem WHERE sha256 = ?)", arguments: [sha256]) ?? false }
    }

    static func openMergeSet(_ db: Database, chatID: Int64, userID: Int64) throws -> PageSetRecord? {
        try Row.fetchOne(db, sql: """
            SELECT * FROM pageSet WHERE chatID = ? AND userID = ? AND kind = 'merge' AND closedAt IS NULL ORDER BY id DESC LIMIT 1
            """, arguments: [chatID, userID]).map(pageSet(row:))
    }

    static func pageSet(_ db: Database, key: String) throws -> PageSetRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM pageSet WHERE key = ?", arguments: [key]).map(pageSet(row:))
    }

    static func pageSet(row: Row) -> PageSetRecord {
        let kind: String = row["kind"], mode: String = row["mode"]
        return PageSetRecord(id: row["id"], key: row["key"], kind: PageSetRecord.Kind(rawValue: kind) ?? .album, chatID: row["chatID"],
                             userID: row["userID"], messageID: row["messageID"], languageCode: row["languageCode"],
                             mode: AlbumMode(rawValue: mode) ?? .auto, createdAt: row["createdAt"], lastAddedAt: row["lastAddedAt"],
                             closedAt: row["closedAt"])
    }
}
