import Foundation

/// Documents (one per distinct content), the jobs made of them as people see them, and the groups they
/// arrive in (albums, batch folders). What intake, reports, search and the admin commands read and write.
public protocol DocumentStore: Sendable {
    /// Records a document if its content is new; returns the stored row either way.
    func saveDocument(_ document: DocumentRecord) async throws -> DocumentRecord
    func document(sha256: String) async throws -> DocumentRecord?
    /// Full-text search over documents' text; with an `owner`, only documents that chat (or API token) sent,
    /// named as its (latest) upload named them.
    func searchDocuments(_ words: String, owner: JobOwner?, limit: Int) async throws -> [SearchHit]
    /// Documents holding any of `terms` (each matched as a word's beginning: "receipt" finds "receipts"), the
    /// best matches first, named and limited to an owner as `searchDocuments` does. What `/ask` retrieves with.
    func searchDocuments(anyOf terms: [String], owner: JobOwner?, limit: Int) async throws -> [SearchHit]
    func jobDetails(code: String) async throws -> JobDetails?
    func jobDetails(groupID: Int64) async throws -> [JobDetails]
    /// Every job created at or after `since` (all when nil), oldest first.
    func jobDetails(since: Timestamp?) async throws -> [JobDetails]
    /// A chat's jobs, newest first.
    func recentJobs(chatID: Int64, limit: Int) async throws -> [JobDetails]
    /// Jobs matching `query` (whose, in what state, since when, below what id), newest first.
    func jobs(matching query: JobQuery, limit: Int) async throws -> [JobRecord]
    /// The group with this key, made on first use.
    func group(kind: GroupKind, key: String, title: String, chatID: Int64?, userID: Int64?, now: Timestamp) async throws -> GroupRecord
    /// Something was added to the group (an album is complete once this stops).
    func touchGroup(id: Int64, now: Timestamp) async throws
    func markConsolidated(groupID: Int64, reportPath: String, now: Timestamp) async throws
    /// Deletes a job that is not running (with its steps, runs and unsent result reply) and, when no other job
    /// uses its document any more, the document's row and text. Nil when there is no such job (of `userID`, if
    /// given). The returned orphaned document's blob and archived copies are the caller's to remove.
    func forgetJob(code: String, userID: Int64?) async throws -> ForgottenJob?
}

/// One full-text hit: the document, named as the searcher's own (latest) job for it calls it.
public struct SearchHit: Sendable, Equatable {
    public var sha256: String
    public var name: String
    public var jobCode: String
    public var snippet: String

    public init(sha256: String, name: String, jobCode: String, snippet: String) {
        self.sha256 = sha256
        self.name = name
        self.jobCode = jobCode
        self.snippet = snippet
    }
}

/// The words of a search as both stores match them: letters and digits only, lower-cased (no query syntax
/// can come through).
public enum SearchTerms {
    public static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }
}

/// What `forgetJob` removed.
public struct ForgottenJob: Sendable, Equatable {
    public var job: JobRecord
    /// Set when the job was the document's last: its row is gone, its bytes are not yet.
    public var orphanedDocument: DocumentRecord?

    public init(job: JobRecord, orphanedDocument: DocumentRecord?) {
        self.job = job
        self.orphanedDocument = orphanedDocument
    }
}

extension DocumentStore {
    public func searchDocuments(_ words: String, owner: JobOwner? = nil) async throws -> [SearchHit] {
        try await searchDocuments(words, owner: owner, limit: 10)
    }

    /// All jobs (in one state), newest first.
    public func jobs(state: JobState? = nil, limit: Int) async throws -> [JobRecord] {
        try await jobs(matching: JobQuery(state: state), limit: limit)
    }

    public func group(kind: GroupKind, key: String, title: String, chatID: Int64? = nil, userID: Int64? = nil) async throws -> GroupRecord {
        try await group(kind: kind, key: key, title: title, chatID: chatID, userID: userID, now: .now)
    }

    public func touchGroup(id: Int64) async throws {
        try await touchGroup(id: id, now: .now)
    }

    public func markConsolidated(groupID: Int64, reportPath: String) async throws {
        try await markConsolidated(groupID: groupID, reportPath: reportPath, now: .now)
    }
}

/// Whose jobs a query sees: one chat's (the bot), one API token's, or everyone's (admins, nil).
public enum JobOwner: Sendable, Equatable {
    case chat(Int64)
    case token(Int64)
}

/// A page of jobs: newest first, from `beforeID` down (the cursor of the page before).
public struct JobQuery: Sendable, Equatable {
    public var owner: JobOwner?
    public var state: JobState?
    public var since: Timestamp?
    public var beforeID: Int64?
    /// Only jobs of this document.
    public var documentSHA256: String?
    /// Only the job made for this request (`JobRequest.sourceKey`).
    public var sourceKey: String?

    public init(owner: JobOwner? = nil, state: JobState? = nil, since: Timestamp? = nil, beforeID: Int64? = nil, documentSHA256: String? = nil,
                sourceKey: String? = nil) {
        self.owner = owner
        self.state = state
        self.since = since
        self.beforeID = beforeID
        self.documentSHA256 = documentSHA256
        self.sourceKey = sourceKey
    }
}

extension JobOwner {
    public var chatID: Int64? {
        if case .chat(let id) = self { id } else { nil }
    }

    public var tokenID: Int64? {
        if case .token(let id) = self { id } else { nil }
    }
}
