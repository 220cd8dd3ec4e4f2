import Foundation
import GRDB

/// The `DocumentStore`: documents, the jobs made of them as people see them, and their groups.
extension AppDatabase: DocumentStore {
    // MARK: Documents

    /// Records a document if its content is new; returns the stored row either way.
    public func saveDocument(_ document: DocumentRecord) async throws -> DocumentRecord {
        try await write { db in
            try Self.insertIfNew(db, document)
            return try DocumentRecord.fetchOne(db, key: document.sha256) ?? document
        }
    }

    public func document(sha256: String) async throws -> DocumentRecord? {
        try await read { db in try DocumentRecord.fetchOne(db, key: sha256) }
    }

    /// Keeps a document's text (tests and tools; the pipeline stores it with the OCR step's output).
    public func saveOCR(sha256: String, text: String, result: Data, pages: Int) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE document SET ocrText = ?, ocrResult = ?, pages = ? WHERE sha256 = ?",
                           arguments: [text, result, pages, sha256])
        }
    }

    /// Full-text search over OCR text. With `chatID`, only that chat's documents, each named as that chat
    /// uploaded it: a document is stored once by content, but its name belongs to each upload.
    public func searchDocuments(_ words: String, owner: JobOwner? = nil, limit: Int = 10) async throws -> [SearchHit] {
        // Every word quoted (FTS syntax in user input is text); NUL and other controls cannot reach SQLite.
        let terms = words.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) ? " " : Character($0) }
            .split(whereSeparator: { $0.isWhitespace })
            .map { "\"" + String($0).replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        guard !terms.isEmpty else { return [] }
        return try await search(match: terms.joined(separator: " "), owner: owner, limit: limit)
    }

    /// Documents holding any of the terms (each a word's beginning), the best matches first.
    public func searchDocuments(anyOf terms: [String], owner: JobOwner?, limit: Int) async throws -> [SearchHit] {
        let words = SearchTerms.words(terms.joined(separator: " "))
        guard !words.isEmpty else { return [] }
        return try await search(match: words.map { "\"\($0)\"*" }.joined(separator: " OR "), owner: owner, limit: limit)
    }

    private func search(match query: String, owner: JobOwner?, limit: Int) async throws -> [SearchHit] {
        try await read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT hit.sha256, hit.snippet, job.sourceName, job.code FROM (
                    SELECT document.sha256 AS sha256, snippet(document_fts, 0, '«', '»', '…', 12) AS snippet, bm25(document_fts) AS rank,
                           (SELECT MAX(id) FROM job WHERE job.documentSHA256 = document.sha256 AND (?1 IS NULL OR job.chatID = ?1) AND (?4 IS NULL OR job.tokenID = ?4)) AS jobID
                    FROM document_fts JOIN document ON document.rowid = document_fts.rowid
                    WHERE document_fts MATCH ?2
                ) AS hit JOIN job ON job.id = hit.jobID
                ORDER BY hit.rank LIMIT ?3
                """, arguments: [owner?.chatID, query, limit, owner?.tokenID])
            return rows.map { SearchHit(sha256: $0[0], name: $0[2], jobCode: $0[3], snippet: $0[1] ?? "") }
        }
    }

    public func jobDetails(code: String) async throws -> JobDetails? {
        let code = JobCode.normalized(code)
        return try await read { db in
            guard let job = try JobRecord.filter(JobRecord.Columns.code == code).fetchOne(db) else { return nil }
            return try Self.details(db, job)
        }
    }

    public func jobDetails(groupID: Int64) async throws -> [JobDetails] {
        try await read { db in
            try JobRecord.filter(JobRecord.Columns.groupID == groupID).order(JobRecord.Columns.id).fetchAll(db).map { try Self.details(db, $0) }
        }
    }

    /// Every job created at or after `since` (all when nil), oldest first, with its document and steps.
    public func jobDetails(since: Timestamp?) async throws -> [JobDetails] {
        try await read { db in
            var request = JobRecord.order(JobRecord.Columns.id)
            if let since { request = request.filter(JobRecord.Columns.createdAt >= since) }
            return try request.fetchAll(db).map { try Self.details(db, $0) }
        }
    }

    static func details(_ db: Database, _ job: JobRecord) throws -> JobDetails {
        guard let document = try DocumentRecord.fetchOne(db, key: job.documentSHA256) else {
            throw StorageError.notFound("document of job \(job.code)")
        }
        let steps = try StepRecord.filter(StepRecord.Columns.jobID == job.id!).order(StepRecord.Columns.position).fetchAll(db)
        return JobDetails(job: job, document: document, steps: steps)
    }

    public func jobs(matching query: JobQuery, limit: Int) async throws -> [JobRecord] {
        // SQL text per set of filters, so each shape is compiled once (`cachedStatement`): the API asks this of
        // every upload (was it sent before?), and compiling the query anew cost more than the upload's own insert.
        var conditions: [String] = []
        var arguments: StatementArguments = []
        func filter(_ condition: String, _ value: some DatabaseValueConvertible) {
            conditions.append(condition)
            arguments += [value]
        }
        switch query.owner {
        case .chat(let chat): filter("chatID = ?", chat)
        case .token(let token): filter("tokenID = ?", token)
        case nil: break
        }
        if let state = query.state { filter("state = ?", state.rawValue) }
        if let since = query.since { filter("createdAt >= ?", since) }
        if let before = query.beforeID { filter("id < ?", before) }
        if let sha = query.documentSHA256 { filter("documentSHA256 = ?", sha) }
        if let key = query.sourceKey { filter("sourceKey = ?", key) }
        let sql = "SELECT * FROM job" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) + " ORDER BY id DESC LIMIT ?"
        arguments += [limit]
        return try await read { [arguments] db in
            try JobRecord.fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
        }
    }

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

    // MARK: Forgetting

    public func forgetJob(code: String, userID: Int64?) async throws -> ForgottenJob? {
        let code = JobCode.normalized(code)
        return try await write { db in
            guard let job = try JobRecord.filter(JobRecord.Columns.code == code).fetchOne(db), let jobID = job.id,
                  userID == nil || job.userID == userID else { return nil }
            guard job.state != .running else {
                throw StorageError.invalid("job \(code) is being worked on; forget it once it is done")
            }
            // Steps and their runs go with the job (foreign keys cascade); an unsent result would name a job that is gone.
            try db.execute(sql: "DELETE FROM outbox WHERE dedupeKey = ? AND state = 'pending'", arguments: [ReplyKey.result(jobID: jobID)])
            try db.execute(sql: "DELETE FROM job WHERE id = ?", arguments: [jobID])
            let stillUsed = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job WHERE documentSHA256 = ?", arguments: [job.documentSHA256]) ?? 0
            guard stillUsed == 0, let document = try DocumentRecord.fetchOne(db, key: job.documentSHA256) else {
                return ForgottenJob(job: job, orphanedDocument: nil)
            }
            try DocumentRecord.deleteOne(db, key: job.documentSHA256)
            return ForgottenJob(job: job, orphanedDocument: document)
        }
    }
}
