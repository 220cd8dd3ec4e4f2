import Foundation
import Logging
import Plugins
import Storage

/// The HTTP API's use cases, for one API token: the same jobs, search and reports as the bot, seen through
/// the token (its own jobs only, every job with the admin scope).
public struct APIService: Sendable {
    let jobs: any JobService
    let documents: any DocumentStore
    let store: any APIStore
    let blobs: BlobStore
    let intake: DocumentIntake
    let composer: ReportComposer
    let answerStep: String
    /// `BOT_DATA_DIR/reports`: a finished group's report is composed once and kept there.
    let reports: URL

    public init(jobs: any JobService, documents: any DocumentStore, store: any APIStore, blobs: BlobStore, intake: DocumentIntake, composer: ReportComposer,
                answerStep: String, reports: URL) {
        self.jobs = jobs
        self.documents = documents
        self.store = store
        self.blobs = blobs
        self.intake = intake
        self.composer = composer
        self.answerStep = answerStep
        self.reports = reports
    }

    /// What an upload asks for beside the file.
    public struct Upload: Sendable {
        public var name: String
        public var sha256: String
        public var size: Int64
        /// The first bytes (the format is told from them).
        public var head: Data
        public var idempotencyKey: String?
        public var group: String?
        public var callbackURL: String?
        public var language: String?

        public init(name: String, sha256: String, size: Int64, head: Data, idempotencyKey: String? = nil, group: String? = nil, callbackURL: String? = nil, language: String? = nil) {
            self.name = name
            self.sha256 = sha256
            self.size = size
            self.head = head
            self.idempotencyKey = idempotencyKey
            self.group = group
            self.callbackURL = callbackURL
            self.language = language
        }
    }

    public enum Refusal: Error, Sendable, Equatable {
        /// The token's documents for today are used up; `resetsIn` seconds until midnight UTC.
        case quotaExhausted(limit: Int, resetsIn: Int)
        /// The same idempotency key came with other bytes.
        case keyReused(existing: String)
    }

    /// Refuses when the token has made its `quota` documents since midnight UTC.
    public func checkQuota(_ token: APITokenRecord, quota: Int, now: Timestamp = .now) async throws {
        guard let id = token.id, try await store.jobCount(tokenID: id, day: APIUsage.day(of: now)) >= quota else { return }
        throw Refusal.quotaExhausted(limit: quota, resetsIn: APIUsage.secondsUntilNextDay(after: now))
    }

    /// Takes in the file its writer put at `blobs.temporaryPath()` (renamed into the store, not copied) and queues
    /// its job, durably, before returning. The same bytes from the same token (or the same idempotency key) return
    /// the job made the first time (`created` false).
    public func submit(file path: String, upload: Upload, token: APITokenRecord) async throws -> Submission {
        guard let tokenID = token.id else { throw StorageError.notFound("token \(token.name)") }
        let sourceKey = upload.idempotencyKey.map { "api:\(tokenID):key:\($0)" } ?? "api:\(tokenID):sha:\(upload.sha256)"
        // Sent before: answered without taking the bytes in again (and a key reused for other bytes keeps nothing).
        if let existing = try await documents.jobs(matching: JobQuery(owner: .token(tokenID), sourceKey: sourceKey), limit: 1).first {
            guard existing.documentSHA256 == upload.sha256 else { throw Refusal.keyReused(existing: existing.code) }
            return Submission(job: existing, created: false, albumID: nil)
        }
        var groupID: Int64?
        if let group = upload.group {
            groupID = try await documents.group(kind: .api, key: "api:\(tokenID):\(group)", title: group, chatID: nil, userID: nil, now: .now).id
        }
        let request = JobRequest(origin: .api, sourceName: upload.name, groupID: groupID, languageCode: upload.language, sourceKey: sourceKey,
                                 tokenID: tokenID, callbackURL: upload.callbackURL)
        let document = try await intake.take(adopting: path, sha256: upload.sha256, size: upload.size, head: upload.head, displayName: upload.name)
        let submission = try await jobs.submit(stored: document, request: request)
        if !submission.created, upload.idempotencyKey != nil, submission.job.documentSHA256 != upload.sha256 {
            throw Refusal.keyReused(existing: submission.job.code)
        }
        return submission
    }

    /// A job the token may see.
    public func job(code: String, for token: APITokenRecord) async throws -> JobDetails? {
        guard let details = try await documents.jobDetails(code: code), sees(details.job, token) else { return nil }
        return details
    }

    /// A page of the token's jobs (every job for admin), newest first.
    public func jobs(for token: APITokenRecord, state: JobState?, since: Timestamp?, before: Int64?, limit: Int) async throws -> [JobRecord] {
        try await documents.jobs(matching: JobQuery(owner: owner(token), state: state, since: since, beforeID: before), limit: limit)
    }

    /// Queues a failed job of the token's again.
    public func retry(code: String, for token: APITokenRecord) async throws -> JobRecord? {
        guard try await job(code: code, for: token) != nil else { return nil }
        return try await jobs.retry(code: code)
    }

    public func search(_ words: String, for token: APITokenRecord, limit: Int) async throws -> [SearchHit] {
        try await documents.searchDocuments(words, owner: owner(token), limit: limit)
    }

    /// A document the token uploaded (any for admin), with the token's latest job for it.
    public func document(sha256: String, for token: APITokenRecord) async throws -> (document: DocumentRecord, job: JobRecord)? {
        guard sha256.count == 64, sha256.allSatisfy(\.isHexDigit),
              let job = try await documents.jobs(matching: JobQuery(owner: owner(token), documentSHA256: sha256.lowercased()), limit: 1).first,
              let document = try await documents.document(sha256: job.documentSHA256) else { return nil }
        return (document, job)
    }

    /// The document's bytes on this machine's disk (fetched from the shared store when documents live there).
    public func originalPath(_ document: DocumentRecord) async throws -> String {
        try await blobs.checkout(document)
    }

    /// The consolidated Markdown of an API group the token uploaded to. While documents are still being read,
    /// the answered ones without a summary; once all are, the full report (with the executive summary when an
    /// LLM analyser is configured), composed once and kept, so asking again costs nothing. Nil when the token
    /// has no such group.
    public func groupReport(id: Int64, for token: APITokenRecord) async throws -> (markdown: String, documents: Int, pending: Int)? {
        let all = try await documents.jobDetails(groupID: id)
        guard !all.isEmpty, token.scopes.contains(.admin) || all.allSatisfy({ $0.job.tokenID == token.id }) else { return nil }
        let answered = all.filter { $0.isAnswered(answerStep: answerStep) }
        let title = "Group \(id): \(answered.count) of \(all.count) documents"
        guard answered.count == all.count else {
            return (ReportBuilder().markdown(title: title, jobs: answered), answered.count, all.count - answered.count)
        }
        let latest = all.map { Int(($0.job.finishedAt ?? $0.job.updatedAt) * 1000) }.max() ?? 0
        let kept = reports.appendingPathComponent("api-group-\(id)-\(all.count)-\(latest).md")
        if let markdown = try? String(contentsOf: kept, encoding: .utf8) { return (markdown, all.count, 0) }
        let markdown = await composer.markdown(title: title, jobs: answered, groupID: id)
        try StoreReportService.write(markdown, to: kept)
        return (markdown, all.count, 0)
    }

    public func stats(since: Timestamp) async throws -> (totals: GatewayStats, spending: [Spending]) {
        (try await jobs.stats(), try await store.spending(since: since))
    }

    private func owner(_ token: APITokenRecord) -> JobOwner? {
        token.scopes.contains(.admin) ? nil : .token(token.id ?? -1)
    }

    private func sees(_ job: JobRecord, _ token: APITokenRecord) -> Bool {
        token.scopes.contains(.admin) || (job.tokenID != nil && job.tokenID == token.id)
    }
}
