import Foundation
import PostgresNIO
import Storage

/// The `PageSetStore` on PostgreSQL: the same behaviour as SQLite's, with `FOR UPDATE SKIP LOCKED` so two
/// gateways never take the same set.
extension PostgresDatabase: PageSetStore {
    public func addPage(_ item: PageSetItem, to set: PageSetRecord, now: Timestamp) async throws -> (set: PageSetRecord, pages: Int) {
        try await transaction { connection in
            try await connection.query("""
                INSERT INTO page_set (key, kind, chat_id, user_id, message_id, language_code, mode, created_at, last_added_at)
                VALUES (\(set.key), \(set.kind.rawValue), \(set.chatID), \(set.userID), \(set.messageID), \(set.languageCode), \(set.mode.rawValue), \(now), \(now))
                ON CONFLICT (key) DO NOTHING
                """, logger: self.logger)
            guard let id = try await connection.query("SELECT id FROM page_set WHERE key = \(set.key) FOR UPDATE", logger: self.logger)
                .first()?.value("id", as: Int64.self) else { throw StorageError.notFound("page set \(set.key)") }
            let document = item.document
            let added = try await connection.query("""
                INSERT INTO page_set_item (set_id, source_key, message_id, sha256, format, mime_type, size, blob_path, original_name, added_at)
                VALUES (\(id), \(item.sourceKey), \(item.messageID), \(document.sha256), \(document.format), \(document.mimeType), \(document.size),
                        \(document.blobPath), \(document.originalName), \(now))
                ON CONFLICT (source_key) DO NOTHING RETURNING id
                """, logger: self.logger).first()
            if added != nil {
                try await connection.query("""
                    UPDATE page_set SET last_added_at = \(now),
                        message_id = CASE WHEN message_id IS NULL OR \(item.messageID)::bigint < message_id THEN \(item.messageID)::bigint ELSE message_id END
                    WHERE id = \(id)
                    """, logger: self.logger)
            }
            let pages = try await connection.query("SELECT COUNT(*) AS pages FROM page_set_item WHERE set_id = \(id)", logger: self.logger)
                .first()?.value("pages", as: Int64.self) ?? 0
            guard let row = try await connection.query("SELECT * FROM page_set WHERE id = \(id)", logger: self.logger).first() else {
                throw StorageError.notFound("page set \(set.key)")
            }
            return (try row.pageSet(), Int(pages))
        }
    }

    public func openMergeSet(chatID: Int64, userID: Int64, languageCode: String?, now: Timestamp) async throws -> PageSetRecord {
        try await transaction { connection in
            // One open set per user and chat: a lock on the pair for the transaction serialises two `/merge` at once.
            let pair = "merge:\(chatID):\(userID)"
            try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(pair), 0))", logger: self.logger)
            if let open = try await connection.query(Self.openMergeQuery(chatID: chatID, userID: userID), logger: self.logger).first() {
                return try open.pageSet()
            }
            let key = "merge:\(chatID):\(userID):\(Int64((now * 1000).rounded()))"
            guard let row = try await connection.query("""
                INSERT INTO page_set (key, kind, chat_id, user_id, message_id, language_code, mode, created_at, last_added_at)
                VALUES (\(key), 'merge', \(chatID), \(userID), NULL, \(languageCode), 'merge', \(now), \(now))
                RETURNING *
                """, logger: self.logger).first() else { throw StorageError.notFound("page set \(key)") }
            return try row.pageSet()
        }
    }

    public func openMergeSet(chatID: Int64, userID: Int64) async throws -> PageSetRecord? {
        try await connection { connection in
            try await connection.query(Self.openMergeQuery(chatID: chatID, userID: userID), logger: self.logger).first()?.pageSet()
        }
    }

    static func openMergeQuery(chatID: Int64, userID: Int64) -> PostgresQuery {
        """
        SELECT * FROM page_set WHERE chat_id = \(chatID) AND user_id = \(userID) AND kind = 'merge' AND closed_at IS NULL
        ORDER BY id DESC LIMIT 1
        """
    }

    public func closePageSet(id: Int64, now: Timestamp) async throws -> Bool {
        try await connection { connection in
            try await connection.query("UPDATE page_set SET closed_at = \(now) WHERE id = \(id) AND closed_at IS NULL RETURNING id", logger: self.logger)
                .first() != nil
        }
    }

    public func claimReadyPageSets(albumQuiet: Double, mergeQuiet: Double, leaseSeconds: Double, limit: Int, now: Timestamp) async throws -> [PageSetRecord] {
        let albumsBefore = now - albumQuiet, mergesBefore = now - mergeQuiet, until = now + leaseSeconds
        return try await connection { connection in
            try await connection.query("""
                UPDATE page_set SET claimed_until = \(until) WHERE id IN (
                    SELECT id FROM page_set
                    WHERE (claimed_until IS NULL OR claimed_until < \(now))
                      AND ((kind = 'album' AND last_added_at <= \(albumsBefore)
                            AND NOT EXISTS (SELECT 1 FROM telegram_update AS u WHERE u.state = 'pending' AND u.chat_id = page_set.chat_id))
                           OR (kind = 'merge' AND (closed_at IS NOT NULL OR last_added_at <= \(mergesBefore))))
                    ORDER BY last_added_at LIMIT \(Int64(limit))
                    FOR UPDATE SKIP LOCKED)
                RETURNING *
                """, logger: self.logger).rows().map { try $0.pageSet() }.sorted { $0.lastAddedAt < $1.lastAddedAt }
        }
    }

    public func pages(ofSet id: Int64) async throws -> [PageSetItem] {
        try await connection { connection in
            try await connection.query("SELECT * FROM page_set_item WHERE set_id = \(id) ORDER BY message_id NULLS LAST, id", logger: self.logger)
                .rows().map { row in
                    let document = DocumentRecord(sha256: try row.value("sha256"), format: try row.value("format"), mimeType: try row.value("mime_type"),
                                                  size: try row.value("size"), blobPath: try row.value("blob_path"),
                                                  originalName: try row.value("original_name"), createdAt: try row.value("added_at"))
                    return PageSetItem(document: document, messageID: try row.value("message_id"), sourceKey: try row.value("source_key"),
                                       addedAt: try row.value("added_at"))
                }
        }
    }

    public func removePageSet(id: Int64) async throws {
        // The pages go with the set (ON DELETE CASCADE).
        try await execute("DELETE FROM page_set WHERE id = \(id)")
    }

    public func isPagePending(sha256: String) async throws -> Bool {
        try await connection { connection in
            try await connection.query("SELECT 1 AS pending FROM page_set_item WHERE sha256 = \(sha256) LIMIT 1", logger: self.logger).first() != nil
        }
    }
}

extension PostgresRandomAccessRow {
    func pageSet() throws -> PageSetRecord {
        let kind: String = try value("kind"), mode: String = try value("mode")
        return PageSetRecord(id: try value("id", as: Int64.self), key: try value("key"), kind: PageSetRecord.Kind(rawValue: kind) ?? .album,
                             chatID: try value("chat_id"), userID: try value("user_id"), messageID: try value("message_id"),
                             languageCode: try value("language_code"), mode: AlbumMode(rawValue: mode) ?? .auto,
                             createdAt: try value("created_at"), lastAddedAt: try value("last_added_at"), closedAt: try value("closed_at"))
    }
}
