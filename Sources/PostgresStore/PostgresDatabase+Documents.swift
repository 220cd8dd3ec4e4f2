import Foundation
import PostgresNIO
import Storage

/// The `DocumentStore` on PostgreSQL; search runs on its full-text index (`document.search`).
extension PostgresDatabase: DocumentStore {
    public func saveDocument(_ document: DocumentRecord) async throws -> DocumentRecord {
        try await transaction { connection in
            try await Self.insertIfNew(connection, document, logger: self.logger)
            return try await Self.document(connection, sha256: document.sha256, logger: self.logger) ?? document
        }
    }

    public func document(sha256: String) async throws -> DocumentRecord? {
        try await connection { connection in try await Self.document(connection, sha256: sha256, logger: self.logger) }
    }

    static func document(_ connection: PostgresConnection, sha256: String, logger: Logger) async throws -> DocumentRecord? {
        try await connection.query("SELECT \(unescaped: documentColumns) FROM document WHERE sha256 = \(sha256)", logger: logger)
            .first()?.documentRecord()
    }

    /// The same behaviour as the SQLite store's: every word must occur (words, not query syntax), own documents
    /// only when `chatID` is given, each named as the chat's latest job for it, with a snippet marked «like this».
    public func searchDocuments(_ words: String, owner: JobOwner?, limit: Int) async throws -> [SearchHit] {
        // NUL and other controls cannot reach the server (PostgreSQL text holds no NUL).
        let words = String(words.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) ? " " : Character($0) })
            .split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        guard !words.isEmpty else { return [] }
        return try await search(using: "plainto_tsquery", words, owner: owner, limit: limit)
    }

    /// Any of the terms, each as a word's beginning (`acme:* | receipt:*`): letters and digits only reach the
    /// query, so no tsquery syntax can come from a question.
    public func searchDocuments(anyOf terms: [String], owner: JobOwner?, limit: Int) async throws -> [SearchHit] {
        let words = SearchTerms.words(terms.joined(separator: " "))
        guard !words.isEmpty else { return [] }
        return try await search(using: "to_tsquery", words.map { "\($0):*" }.joined(separator: " | "), owner: owner, limit: limit)
    }

    /// `function` makes the tsquery of `text` (`plainto_tsquery`: words; `to_tsquery`: a query built here).
    private func search(using function: String, _ text: String, owner: JobOwner?, limit: Int) async throws -> [SearchHit] {
        let chatID = owner?.chatID, tokenID = owner?.tokenID
        return try await connection { connection in
            try await connection.query("""
                WITH query AS (SELECT \(unescaped: function)('simple', \(text)::text) AS q),
                hit AS (
                    SELECT document.sha256, ts_rank(document.search, query.q) AS rank,
                           (SELECT MAX(id) FROM job WHERE job.document_sha256 = document.sha256
                                                      AND (\(chatID)::bigint IS NULL OR job.chat_id = \(chatID))
                                                      AND (\(tokenID)::bigint IS NULL OR job.token_id = \(tokenID))) AS job_id
                    FROM document, query WHERE document.search @@ query.q)
                SELECT hit.sha256, job.source_name, job.code,
                       ts_headline('simple', coalesce(document.ocr_text, ''), query.q,
                                   'StartSel=«, StopSel=», MaxWords=12, MinWords=4, MaxFragments=1, FragmentDelimiter=…') AS snippet
                FROM hit JOIN job ON job.id = hit.job_id JOIN document ON document.sha256 = hit.sha256, query
                ORDER BY hit.rank DESC, job.id DESC LIMIT \(limit)
                """, logger: self.logger).rows().map {
                SearchHit(sha256: try $0.value("sha256"), name: try $0.value("source_name"), jobCode: try $0.value("code"),
                          snippet: try $0.value("snippet", as: String?.self) ?? "")
            }
        }
    }

    public func jobDetails(code: String) async throws -> JobDetails? {
        let code = JobCode.normalized(code)
        return try await connection { connection in
            try await Self.details(connection, where: "code = $1", code, logger: self.logger).first
        }
    }

    public func jobDetails(groupID: Int64) async throws -> [JobDetails] {
        try await connection { connection in try await Self.details(connection, where: "group_id = $1 ORDER BY id", groupID, logger: self.logger) }
    }

    public func jobDetails(since: Timestamp?) async throws -> [JobDetails] {
        try await connection { connection in
            try await Self.details(connection, where: "($1::double precision IS NULL OR created_at >= $1) ORDER BY id", since, logger: self.logger)
        }
    }

    public func recentJobs(chatID: Int64, limit: Int) async throws -> [JobDetails] {
        try await connection { connection in
            try await Self.details(connection, where: "chat_id = $1 ORDER BY id DESC LIMIT \(max(0, limit))", chatID, logger: self.logger)
        }
    }

    public func jobs(matching query: JobQuery, limit: Int) async throws -> [JobRecord] {
        let chat = query.owner?.chatID, token = query.owner?.tokenID, state = query.state?.rawValue
        return try await connection { connection in
            try await connection.query("""
                SELECT * FROM job
                WHERE (\(chat)::bigint IS NULL OR chat_id = \(chat)) AND (\(token)::bigint IS NULL OR token_id = \(token))
                  AND (\(state)::text IS NULL OR state = \(state)) AND (\(query.since)::double precision IS NULL OR created_at >= \(query.since))
                  AND (\(query.beforeID)::bigint IS NULL OR id < \(query.beforeID))
                  AND (\(query.documentSHA256)::text IS NULL OR document_sha256 = \(query.documentSHA256))
                  AND (\(query.sourceKey)::text IS NULL OR source_key = \(query.sourceKey))
                ORDER BY id DESC LIMIT \(limit)
                """, logger: self.logger).rows().map { try $0.jobRecord() }
        }
    }

    /// Jobs matching `condition` (which binds `$1` to `value`), each with its document and steps, in three
    /// round trips whatever their number.
    static func details<Value: PostgresEncodable & Sendable>(_ connection: PostgresConnection, where condition: String, _ value: Value?,
                                                             logger: Logger) async throws -> [JobDetails] {
        var binds = PostgresBindings()
        try binds.append(value)
        let jobs = try await connection.query(PostgresQuery(unsafeSQL: "SELECT * FROM job WHERE " + condition, binds: binds), logger: logger)
            .rows().map { try $0.jobRecord() }
        guard !jobs.isEmpty else { return [] }
        let ids = jobs.compactMap(\.id)
        let shas = Array(Set(jobs.map(\.documentSHA256)))
        var documents: [String: DocumentRecord] = [:]
        for row in try await connection.query("SELECT \(unescaped: documentColumns) FROM document WHERE sha256 = ANY(\(shas)::text[])", logger: logger).rows() {
            let document = try row.documentRecord()
            documents[document.sha256] = document
        }
        var steps: [Int64: [StepRecord]] = [:]
        for row in try await connection.query("SELECT * FROM step WHERE job_id = ANY(\(ids)::bigint[]) ORDER BY job_id, position", logger: logger).rows() {
            let step = try row.stepRecord()
            steps[step.jobID, default: []].append(step)
        }
        return try jobs.map { job in
            guard let document = documents[job.documentSHA256] else { throw StorageError.notFound("document of job \(job.code)") }
            return JobDetails(job: job, document: document, steps: steps[job.id ?? 0] ?? [])
        }
    }

    // MARK: Groups

    public func group(kind: GroupKind, key: String, title: String, chatID: Int64?, userID: Int64?, now: Timestamp) async throws -> GroupRecord {
        try await connection { connection in
            // Two gateways making the same group at once: one inserts, both read the same row.
            try await connection.query("""
                INSERT INTO job_group (kind, key, title, chat_id, user_id, created_at)
                VALUES (\(kind.rawValue), \(key), \(title), \(chatID), \(userID), \(now)) ON CONFLICT (key) DO NOTHING
                """, logger: self.logger)
            guard let row = try await connection.query("SELECT * FROM job_group WHERE key = \(key)", logger: self.logger).first() else {
                throw StorageError.notFound("group \(key)")
            }
            return try row.groupRecord()
        }
    }

    public func touchGroup(id: Int64, now: Timestamp) async throws {
        try await execute("UPDATE job_group SET last_added_at = \(now) WHERE id = \(id)")
    }

    public func markConsolidated(groupID: Int64, reportPath: String, now: Timestamp) async throws {
        try await execute("UPDATE job_group SET report_path = \(reportPath), consolidated_at = \(now) WHERE id = \(groupID)")
    }

    // MARK: Forgetting

    public func forgetJob(code: String, userID: Int64?) async throws -> ForgottenJob? {
        let code = JobCode.normalized(code)
        return try await transaction { connection in
            guard let row = try await connection.query("SELECT * FROM job WHERE code = \(code) FOR UPDATE", logger: self.logger).first() else {
                return nil
            }
            let job = try row.jobRecord()
            guard userID == nil || job.userID == userID, let jobID = job.id else { return nil }
            guard job.state != .running else { throw StorageError.invalid("job \(code) is being worked on; forget it once it is done") }
            // Steps and their runs go with the job (foreign keys cascade); an unsent result would name a job that is gone.
            try await connection.query("DELETE FROM outbox WHERE dedupe_key = \(ReplyKey.result(jobID: jobID)) AND state = 'pending'", logger: self.logger)
            try await connection.query("DELETE FROM job WHERE id = \(jobID)", logger: self.logger)
            // The document's row is locked first: a job enqueued for it meanwhile waits, then finds it gone or kept.
            guard let document = try await connection.query("""
                SELECT \(unescaped: Self.documentColumns) FROM document WHERE sha256 = \(job.documentSHA256) FOR UPDATE
                """, logger: self.logger).first()?.documentRecord() else { return ForgottenJob(job: job, orphanedDocument: nil) }
            let stillUsed = try await connection.query("SELECT 1 FROM job WHERE document_sha256 = \(job.documentSHA256) LIMIT 1", logger: self.logger)
                .first() != nil
            guard !stillUsed else { return ForgottenJob(job: job, orphanedDocument: nil) }
            try await connection.query("DELETE FROM document WHERE sha256 = \(job.documentSHA256)", logger: self.logger)
            return ForgottenJob(job: job, orphanedDocument: document)
        }
    }
}
