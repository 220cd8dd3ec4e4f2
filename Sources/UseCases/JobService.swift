import Foundation
import Logging
import Plugins
import Storage

/// Who is asking: their chat, their user id, and whether they are an admin (admins see every chat's jobs).
public struct Requester: Sendable, Equatable {
    public var chatID: Int64
    public var userID: Int64
    public var isAdmin: Bool

    public init(chatID: Int64, userID: Int64, isAdmin: Bool) {
        self.chatID = chatID
        self.userID = userID
        self.isAdmin = isAdmin
    }
}

/// A file taken in and queued.
public struct Submission: Sendable, Equatable {
    public var job: JobRecord
    /// False when the same request had made this job before (an update handled twice).
    public var created: Bool
    /// The album it belongs to, when it came as part of one.
    public var albumID: Int64?

    public init(job: JobRecord, created: Bool, albumID: Int64?) {
        self.job = job
        self.created = created
        self.albumID = albumID
    }
}

/// What `/forget` did.
public enum ForgetOutcome: Sendable, Equatable {
    /// The job is gone; `documentRemoved` when its bytes (and archived copies) went too, because no other job used
    /// them; `archiveFailed` when a copy could not be deleted (the bucket unreachable): it stays, and the log says which.
    case forgotten(code: String, documentRemoved: Bool, archiveFailed: Bool = false)
    case notFound
    /// Still being worked on.
    case busy(String)
}

/// Jobs as the edges (bot, CLI, tests) use them: a file in, a job queued; a job's state; retry; forget.
public protocol JobService: Sendable {
    /// Stores the file once by content, files it in its album (when `album` names one) and queues its job with
    /// the gateway's steps. The same `request.sourceKey` again returns the job made the first time.
    func submit(file path: String, name: String, request: JobRequest, album: String?) async throws -> Submission
    /// Queues a job for a document already taken in (an API upload, stored as it arrived).
    func submit(stored document: DocumentRecord, request: JobRequest) async throws -> Submission
    /// A job the requester may see (their chat's, or any for an admin).
    func details(code: String, for requester: Requester) async throws -> JobDetails?
    /// The latest jobs of every chat (admins).
    func recent(limit: Int) async throws -> [JobRecord]
    /// A failed job queued again.
    func retry(code: String) async throws -> JobRecord
    /// Deletes the requester's own job (any job for an admin); its document's bytes and archived copies when no
    /// other job uses them.
    func forget(code: String, for requester: Requester) async throws -> ForgetOutcome
    func stats() async throws -> GatewayStats
}

/// `JobService` on the store, the blob store and the step catalogue.
public struct StoreJobService: JobService {
    let documents: any DocumentStore
    let queue: any JobQueue
    let usage: any UsageLedger
    let blobs: BlobStore
    let intake: DocumentIntake
    let steps: StepCatalog
    let archive: ArchivedCopies?
    let logger: Logger

    public init(documents: any DocumentStore, queue: any JobQueue, usage: any UsageLedger, blobs: BlobStore, intake: DocumentIntake,
                steps: StepCatalog, archive: ArchivedCopies? = nil, logger: Logger = Logger(label: "jobs")) {
        self.documents = documents
        self.queue = queue
        self.usage = usage
        self.blobs = blobs
        self.intake = intake
        self.steps = steps
        self.archive = archive
        self.logger = logger
    }

    /// Throws `DocumentIntake.Refusal` for a file that cannot be taken (`.storeUnavailable` when it is our disk).
    public func submit(file path: String, name: String, request: JobRequest, album: String?) async throws -> Submission {
        let document = try await intake.take(file: path, displayName: name)
        var request = request
        if let album, let chat = request.chatID {
            request.groupID = try await documents.group(kind: .album, key: "album:\(chat):\(album)", title: "Album", chatID: chat, userID: request.userID).id
        }
        var submission = try await submit(stored: document, request: request)
        submission.albumID = album == nil ? nil : request.groupID
        return submission
    }

    public func submit(stored document: DocumentRecord, request: JobRequest) async throws -> Submission {
        // The document (if its content is new) and its job in one transaction.
        guard let (job, created) = try await queue.enqueue([(document, request)], steps: steps.names).first else {
            throw StorageError.notFound("the job for \(document.sha256)")
        }
        if let groupID = request.groupID { try await documents.touchGroup(id: groupID) }
        return Submission(job: job, created: created, albumID: nil)
    }

    public func details(code: String, for requester: Requester) async throws -> JobDetails? {
        guard let details = try await documents.jobDetails(code: code), requester.isAdmin || details.job.chatID == requester.chatID else { return nil }
        return details
    }

    public func recent(limit: Int) async throws -> [JobRecord] {
        try await documents.jobs(limit: limit)
    }

    public func retry(code: String) async throws -> JobRecord {
        try await queue.retryJob(code: code)
    }

    public func forget(code: String, for requester: Requester) async throws -> ForgetOutcome {
        let forgotten: ForgottenJob?
        do {
            // An admin may forget any job (cleaning up); everyone else only their own.
            forgotten = try await documents.forgetJob(code: code, userID: requester.isAdmin ? nil : requester.userID)
        } catch let error as StorageError {
            guard case .invalid(let why) = error else { throw error }
            return .busy(why)
        }
        guard let forgotten else { return .notFound }
        var archiveFailed = false
        if let document = forgotten.orphanedDocument {
            // The job is gone already: copies that stay behind (the shared document store's, the archive's) are
            // said, and logged with their hash, instead of failing a forget that has happened.
            do {
                try await blobs.forget(document)
                if let pdf = SearchablePDFs.storedSHA256(of: document) { try await blobs.forget(sha256: pdf) }
            } catch {
                archiveFailed = true
                logger.error("a forgotten document's bytes not removed", metadata: ["sha256": "\(document.sha256)", "error": "\(error)"])
            }
            if let archive {
                do {
                    try await archive.remove(document)
                } catch {
                    archiveFailed = true
                    logger.error("archived copies of a forgotten document not removed", metadata: ["sha256": "\(document.sha256)", "error": "\(error)"])
                }
            }
        }
        logger.info("job forgotten", metadata: ["job": "\(forgotten.job.code)", "document_removed": "\(forgotten.orphanedDocument != nil)"])
        return .forgotten(code: forgotten.job.code, documentRemoved: forgotten.orphanedDocument != nil, archiveFailed: archiveFailed)
    }

    public func stats() async throws -> GatewayStats {
        try await usage.stats()
    }
}
