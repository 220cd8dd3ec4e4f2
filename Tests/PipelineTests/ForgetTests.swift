import Foundation
import Plugins
import Storage
import Testing
import UseCases

/// `/forget` on the real store: only the requester's own jobs, and a document's bytes only once no job uses them.
@Suite("forgetting a job")
struct ForgetTests {
    @Test("a document two jobs share keeps its bytes until the last job is forgotten; others' jobs and running ones stay")
    func sharedDocument() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let data = try distinctDocument(41)
        let first = try await store.enqueue(data, name: "a.webp", steps: ["ocr"], chatID: 5)
        let groupID = try await store.database.group(kind: .batch, key: "other", title: "Other").id
        let second = try await store.enqueue(data, name: "b.webp", steps: ["ocr"], groupID: groupID, chatID: 5)
        try await store.database.saveOCR(sha256: first.documentSHA256, text: "forgettable words", result: Data("{}".utf8), pages: 1)
        let blob = try #require(try await store.database.document(sha256: first.documentSHA256)).blobPath
        let jobs = StoreJobService(documents: store.database, queue: store.database, usage: store.database, blobs: store.blobs,
                                   intake: DocumentIntake(blobs: store.blobs), steps: StepCatalog([]))

        // Batch jobs have no user: only an admin may forget them. A user is told there is no such job of theirs.
        let user = Requester(chatID: 5, userID: 9, isAdmin: false), admin = Requester(chatID: 5, userID: 1, isAdmin: true)
        #expect(try await jobs.forget(code: first.code, for: user) == .notFound)

        // Running: refused, nothing deleted.
        let claimed = try #require(try await store.database.claimNextJob(owner: "w", leaseSeconds: 60))
        guard case .busy = try await jobs.forget(code: claimed.job.code, for: admin) else {
            Issue.record("a running job must not be forgotten")
            return
        }
        try await store.database.releaseJob(claimed)

        #expect(try await jobs.forget(code: first.code, for: admin) == .forgotten(code: first.code, documentRemoved: false))
        #expect(FileManager.default.fileExists(atPath: store.blobs.absolutePath(blob)))
        #expect(try await store.database.searchDocuments("forgettable").map(\.jobCode) == [second.code])
        #expect(try await jobs.forget(code: second.code, for: admin) == .forgotten(code: second.code, documentRemoved: true))
        #expect(!FileManager.default.fileExists(atPath: store.blobs.absolutePath(blob)))
        #expect(try await store.database.searchDocuments("forgettable").isEmpty)
        #expect(try await store.database.jobCounts().values.reduce(0, +) == 0)
    }

    @Test("a user forgets their own Telegram job; someone else's is not theirs to forget")
    func ownJobOnly() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let document = try await DocumentIntake(blobs: store.blobs).take(data: try distinctDocument(42), displayName: "mine.webp")
        _ = try await store.database.saveDocument(document)
        let job = try await store.database.enqueue(documentSHA256: document.sha256,
                                                   request: JobRequest(origin: .telegram, sourceName: "mine.webp", chatID: 5, userID: 9),
                                                   steps: ["ocr"]).job
        let jobs = StoreJobService(documents: store.database, queue: store.database, usage: store.database, blobs: store.blobs,
                                   intake: DocumentIntake(blobs: store.blobs), steps: StepCatalog([]))
        #expect(try await jobs.forget(code: job.code, for: Requester(chatID: 5, userID: 8, isAdmin: false)) == .notFound)
        #expect(try await store.database.jobDetails(code: job.code) != nil)
        #expect(try await jobs.forget(code: job.code.lowercased(), for: Requester(chatID: 5, userID: 9, isAdmin: false))
                == .forgotten(code: job.code, documentRemoved: true))
        #expect(try await store.database.document(sha256: document.sha256) == nil)
        #expect(!FileManager.default.fileExists(atPath: store.blobs.absolutePath(document.blobPath)))
    }

    @Test("a shared document store that cannot delete its copy: the job is still forgotten, and the reply says a copy stays")
    func sharedStoreDown() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let blobs = try BlobStore(dataDirectory: store.blobs.dataDirectory, remote: UnreachableBlobs())
        let document = try store.blobs.store(data: try distinctDocument(43))
        let record = DocumentRecord(sha256: document.sha256, format: "webp", mimeType: "image/webp", size: document.size,
                                    blobPath: document.relativePath, originalName: "mine.webp")
        _ = try await store.database.saveDocument(record)
        let job = try await store.database.enqueue(documentSHA256: record.sha256,
                                                   request: JobRequest(origin: .telegram, sourceName: "mine.webp", chatID: 5, userID: 9),
                                                   steps: ["ocr"]).job
        let jobs = StoreJobService(documents: store.database, queue: store.database, usage: store.database, blobs: blobs,
                                   intake: DocumentIntake(blobs: blobs), steps: StepCatalog([]))
        #expect(try await jobs.forget(code: job.code, for: Requester(chatID: 5, userID: 9, isAdmin: false))
                == .forgotten(code: job.code, documentRemoved: true, archiveFailed: true))
        #expect(try await store.database.jobDetails(code: job.code) == nil)
        #expect(!FileManager.default.fileExists(atPath: blobs.absolutePath(record.blobPath)))
    }
}

/// A shared document store that is down for every call.
struct UnreachableBlobs: RemoteBlobs {
    var location: String { "s3://down/blobs/" }
    func contains(sha256: String, size: Int64) async throws(StorageError) -> Bool { throw .blobUnavailable(path: location, reason: "unreachable") }
    func upload(file path: String, sha256: String, size: Int64, contentType: String) async throws(StorageError) {
        throw .blobUnavailable(path: location, reason: "unreachable")
    }
    func download(sha256: String, to path: String, maxBytes: Int64) async throws(StorageError) { throw .blobUnavailable(path: location, reason: "unreachable") }
    func delete(sha256: String) async throws(StorageError) { throw .blobUnavailable(path: location, reason: "unreachable") }
    func check() async throws(StorageError) { throw .blobUnavailable(path: location, reason: "unreachable") }
}
