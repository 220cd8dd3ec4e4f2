import Foundation
import GRDB
import Plugins
@testable import Storage
import Testing

@Suite("Storage: migrations, blobs, leases, resumption")
struct StorageTests {
    @Test("migrations run on an empty file and again on an existing one")
    func migrations() throws {
        let store = try TestStore()
        defer { store.remove() }
        #expect(try store.database.appliedMigrations() == AppDatabase.migrator.migrations)
        let reopened = try AppDatabase(path: store.database.path)
        #expect(try reopened.appliedMigrations() == AppDatabase.migrator.migrations)
        #expect(AppDatabase.migrator.migrations.last == "v10-api-usage")
    }

    @Test("processes opening a new database at the same moment all get it, migrated once")
    func simultaneousFirstOpen() async throws {
        // `serve` and `batch`, or a test watching a batch, can open a file that does not exist yet at once.
        // Each round is a fresh file opened by eight connections released together.
        for round in 0..<25 {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("open-race-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let path = folder.appendingPathComponent("botgateway.sqlite").path
            let outcomes = await withTaskGroup(of: Result<[String], any Error>.self) { group in
                for _ in 0..<8 {
                    group.addTask { Result { try AppDatabase(path: path).appliedMigrations() } }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            for outcome in outcomes {
                switch outcome {
                case .success(let applied): #expect(applied == AppDatabase.migrator.migrations, "round \(round)")
                case .failure(let error): Issue.record("round \(round): \(error)")
                }
            }
        }
    }

    /// At shutdown the pipeline hands a running job back when its store call ends in `CancellationError`; were the
    /// cancellation reported as an unusable database, the job would sit leased until its lease ran out.
    @Test("a read or write of a cancelled task ends in CancellationError, not as an unusable database")
    func cancelledCallsStayCancelled() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let database = store.database
        for write in [false, true] {
            let failure: (any Error)? = await Task {
                withUnsafeCurrentTask { $0?.cancel() }
                do {
                    if write {
                        try await database.setPipelinePaused(true, by: nil, now: .now)
                    } else {
                        _ = try await database.jobCounts()
                    }
                    return nil
                } catch {
                    return error
                }
            }.value
            let error = try #require(failure, "a cancelled \(write ? "write" : "read") ran")
            #expect(error is CancellationError, "\(write ? "write" : "read"): \(error)")
        }
    }

    @Test("scratch files a crash left (copies, downloads, uploads) are removed at start once an hour old; recent ones stay")
    func leftoversRemoved() throws {
        let store = try TestStore()
        defer { store.remove() }
        let tmp = store.directory.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        let old = [store.blobs.temporaryPath(), tmp.appendingPathComponent("api-1.part").path, tmp.appendingPathComponent("telegram-7-x").path]
        let recent = [store.blobs.temporaryPath(), tmp.appendingPathComponent("api-2.part").path]
        for path in old + recent { #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8))) }
        for path in old {
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: path)
        }
        store.blobs.removeLeftovers()
        #expect(old.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
        #expect(recent.allSatisfy { FileManager.default.fileExists(atPath: $0) })
    }

    @Test("a database set up by a newer version is refused with a clear error, and left as it is")
    func newerSchemaRefused() throws {
        let store = try TestStore()
        defer { store.remove() }
        let queue = try DatabaseQueue(path: store.database.path)
        try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')") }
        try queue.close()
        #expect(throws: StorageError.newerSchema(["v99-from-the-future"])) { try AppDatabase(path: store.database.path) }
        let check = try DatabaseQueue(path: store.database.path)
        #expect(try check.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") }.contains("v99-from-the-future"))
        #expect(StorageError.newerSchema(["v99-from-the-future"]).description.contains("newer botgateway"))
    }

    @Test("a database from before the LLM usage table is upgraded in place, its jobs kept")
    func upgradeFromV1() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let job = try await store.enqueue(try distinctDocument(900), steps: ["ocr"])
        // Make the file what v1 left behind.
        let queue = try DatabaseQueue(path: store.database.path)
        try await queue.write { db in
            // (and before the ask quota, whose migration adds a column to that table)
            try db.execute(sql: "DROP TABLE llmUsage; DROP TABLE askQuota; DELETE FROM grdb_migrations WHERE identifier IN ('v2-llm-usage', 'v7-ask')")
        }
        try queue.close()
        let upgraded = try AppDatabase(path: store.database.path)
        #expect(try upgraded.appliedMigrations() == AppDatabase.migrator.migrations)
        #expect(try await upgraded.jobDetails(code: job.code)?.job.code == job.code)
        try await upgraded.recordLLMUsage(purpose: "summary", groupID: nil, usage: StepUsage(model: "m", inputTokens: 10, outputTokens: 5, costUSD: 0.5))
        #expect(try await upgraded.stats().costUSD == 0.5)
    }

    @Test("updates pending before the per-chat queues learn their chat on upgrade, and keep their order")
    func upgradeToPerChatQueues() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("upgrade-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("botgateway.sqlite").path
        // The file as the release before the per-chat queues left it.
        let queue = try DatabaseQueue(path: path)
        try AppDatabase.migrator.migrate(queue, upTo: "v2-llm-usage")
        try await queue.write { db in
            try db.execute(sql: """
                INSERT INTO telegramUpdate (updateID, payload, state, receivedAt) VALUES
                  (7, CAST('{"update_id":7,"message":{"message_id":1,"chat":{"id":42},"text":"/help"}}' AS BLOB), 'pending', 1),
                  (8, CAST('{"update_id":8,"message":{"message_id":2,"chat":{"id":42},"text":"/help"}}' AS BLOB), 'pending', 2),
                  (9, CAST('{"update_id":9,"my_chat_member":{}}' AS BLOB), 'pending', 3),
                  (10, CAST('not json' AS BLOB), 'pending', 4);
                """)
        }
        try queue.close()
        // The instance that migrates is the one used (a stale reader once hid the new columns).
        let upgraded = try AppDatabase(path: path)
        #expect(try await upgraded.pendingUpdates().map(\.chatID) == [42, 42, nil, nil])
        // One head for chat 42 (its oldest), and each update without a chat on its own.
        #expect(try await upgraded.dueUpdateHeads().map(\.updateID) == [7, 9, 10])
        #expect(try await upgraded.nextDueUpdate(chatID: 42)?.updateID == 7)
        try await upgraded.postponeUpdate(id: 7, until: .now + 60, reason: "Telegram unreachable")
        // The chat waits behind its postponed update; the others do not.
        #expect(try await upgraded.dueUpdateHeads().map(\.updateID) == [9, 10])
        #expect(try await upgraded.nextDueUpdate(chatID: 42) == nil)
    }

    @Test("replies caught mid-send by a crash are sent again, except acknowledgements and hints")
    func interruptedReplies() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let keys = ["result:job:1", "command:update:5:0", "refused:update:7", "ack:update:6", "hint:update:8", "stranger:update:9"]
        for key in keys {
            var record = OutboxRecord(chatID: 1, kind: "message", payload: Data("{}".utf8), dedupeKey: key)
            record.state = .pending
            try await store.database.enqueueReply(record)
        }
        for reply in try await store.database.replies() { try await store.database.beginSending(id: reply.id!) }
        let (resent, dropped) = try await store.database.recoverInterruptedReplies()
        #expect(resent == 3 && dropped == 3)
        let states = Dictionary(uniqueKeysWithValues: try await store.database.replies().map { ($0.dedupeKey, $0.state) })
        #expect(states == ["result:job:1": .pending, "command:update:5:0": .pending, "refused:update:7": .pending,
                           "ack:update:6": .failed, "hint:update:8": .failed, "stranger:update:9": .failed])
    }

    @Test("a database path that cannot be opened gives a clear error")
    func unusablePath() {
        #expect(throws: StorageError.self) { try AppDatabase(path: "/proc/botgateway/none.sqlite") }
    }

    @Test("the blob store keeps each content once, named by its SHA-256")
    func blobs() throws {
        let store = try TestStore()
        defer { store.remove() }
        let first = try store.blobs.store(data: Data("hello".utf8))
        #expect(first.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(first.isNew)
        let second = try store.blobs.store(data: Data("hello".utf8))
        #expect(!second.isNew)
        #expect(second.relativePath == first.relativePath)
        #expect(try Data(contentsOf: URL(fileURLWithPath: store.blobs.absolutePath(first.relativePath))) == Data("hello".utf8))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: store.directory.appendingPathComponent("blobs/tmp").path)
        #expect(leftovers.isEmpty)
    }

    @Test("within a group a document gets one job; enqueueing again returns it")
    func groupDedupe() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let group = try await store.database.group(kind: .batch, key: "batch:/x", title: "x")
        let data = try distinctDocument(1)
        let first = try await store.enqueue(data, name: "a.webp", steps: ["one"], groupID: group.id)
        let again = try await store.enqueue(data, name: "copy-of-a.webp", steps: ["one"], groupID: group.id)
        #expect(first.id == again.id)
        let counts = try await store.database.jobCounts(groupID: group.id)
        #expect(counts[.queued] == 1)
        let elsewhere = try await store.enqueue(data, name: "a.webp", steps: ["one"])
        #expect(elsewhere.id != first.id)
    }

    @Test("two workers never hold the same job; an expired lease is reclaimed and the dead run abandoned")
    func leaseExpiry() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let job = try await store.enqueue(try distinctDocument(2), steps: ["one", "two"])
        let now = Timestamp.now
        // Given worker A holds the job
        let a = try #require(try await store.database.claimNextJob(owner: "A", leaseSeconds: 10, now: now))
        #expect(a.job.id == job.id)
        #expect(a.currentStep.plugin == "one")
        // When worker B looks before the lease runs out, then after
        #expect(try await store.database.claimNextJob(owner: "B", leaseSeconds: 10, now: now + 5) == nil)
        let b = try #require(try await store.database.claimNextJob(owner: "B", leaseSeconds: 10, now: now + 11))
        // Then B resumes the same step, A's run is abandoned, and A can no longer record anything
        #expect(b.reclaimed)
        #expect(b.currentStep.plugin == "one")
        #expect(b.currentStep.attempts == 2)
        let runs = try await store.database.stepRuns(jobID: job.id!)
        #expect(runs.map(\.outcome) == [.abandoned, .running])
        await #expect(throws: StorageError.leaseLost(jobID: job.id!)) {
            _ = try await store.database.finishStep(a, output: Data("{}".utf8), milliseconds: 1)
        }
        #expect(try await store.database.finishStep(b, output: Data("{}".utf8), milliseconds: 1)?.currentStep.plugin == "two")
    }

    @Test("a crash between steps resumes at the next step, the finished one is not run again")
    func crashBetweenSteps() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let job = try await store.enqueue(try distinctDocument(3), steps: ["one", "two"])
        let now = Timestamp.now
        let claimed = try #require(try await store.database.claimNextJob(owner: "dead", leaseSeconds: 1, now: now))
        // Step one finishes, step two begins, then the process dies (nothing more is recorded).
        _ = try await store.database.finishStep(claimed, output: Data("{\"step\":1}".utf8), milliseconds: 1, now: now)
        let resumed = try #require(try await store.database.claimNextJob(owner: "next", leaseSeconds: 10, now: now + 2))
        #expect(resumed.currentStep.plugin == "two")
        #expect(resumed.steps[0].state == .done)
        #expect(resumed.steps[0].output == Data("{\"step\":1}".utf8))
        #expect(try await store.database.finishStep(resumed, output: Data("{}".utf8), milliseconds: 1) == nil)
        let details = try #require(try await store.database.jobDetails(code: job.code))
        #expect(details.job.state == .done)
        let runs = try await store.database.stepRuns(jobID: job.id!)
        #expect(runs.filter { $0.plugin == "one" }.map(\.outcome) == [.done])
        #expect(runs.filter { $0.plugin == "two" }.map(\.outcome) == [.abandoned, .done])
    }

    @Test("a transient failure is queued for later, the last attempt fails the job; retry puts it back")
    func failureAndRetry() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let job = try await store.enqueue(try distinctDocument(4), steps: ["one"])
        var now = Timestamp.now
        for attempt in 1...3 {
            let claimed = try #require(try await store.database.claimNextJob(owner: "w", leaseSeconds: 10, now: now))
            #expect(claimed.currentStep.attempts == attempt)
            let state = try await store.database.failStep(claimed, error: "busy", retryAt: now + 5, maxAttempts: 3, now: now)
            #expect(state == (attempt < 3 ? .queued : .failed))
            // Not due before its retry time.
            #expect(try await store.database.claimNextJob(owner: "w", leaseSeconds: 10, now: now + 1) == nil)
            now += 6
        }
        #expect(try await store.database.jobDetails(code: job.code)?.job.lastError == "busy")
        // On the test's clock: under load the real one can pass it and make the job not yet due.
        let retried = try await store.database.retryJob(code: job.code.lowercased(), now: now)
        #expect(retried.state == .queued)
        let again = try #require(try await store.database.claimNextJob(owner: "w", leaseSeconds: 10, now: now))
        #expect(again.currentStep.attempts == 1)
        await #expect(throws: StorageError.self) { _ = try await store.database.retryJob(code: "NOPE42") }
    }

    @Test("jobs of a killed process on this host are taken over at once")
    func deadOwners() async throws {
        let store = try TestStore()
        defer { store.remove() }
        _ = try await store.enqueue(try distinctDocument(5), steps: ["one"])
        _ = try #require(try await store.database.claimNextJob(owner: "host:999999:x:0", leaseSeconds: 600))
        #expect(try await store.database.claimNextJob(owner: "w", leaseSeconds: 10) == nil)
        let expired = try await store.database.expireLeases(ofDeadOwners: { !$0.hasPrefix("host:999999") })
        #expect(expired == 1)
        #expect(try await store.database.claimNextJob(owner: "w", leaseSeconds: 10)?.reclaimed == true)
    }

    @Test("full-text search finds OCR text without diacritics, quotes user input, and stays in the chat")
    func search() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let mine = try await store.enqueue(try distinctDocument(6), steps: ["one"], chatID: 1)
        let theirs = try await store.enqueue(try distinctDocument(7), steps: ["one"], chatID: 2)
        try await store.database.saveOCR(sha256: mine.documentSHA256, text: "Curriculum vitae: résumé of Zoë", result: Data("{}".utf8), pages: 1)
        try await store.database.saveOCR(sha256: theirs.documentSHA256, text: "Another resume here", result: Data("{}".utf8), pages: 1)
        let hits = try await store.database.searchDocuments("resume zoe", owner: .chat(1))
        #expect(hits.map(\.sha256) == [mine.documentSHA256])
        #expect(hits.map(\.jobCode) == [mine.code])
        #expect(hits.first?.snippet.contains("«résumé»") == true)
        #expect(try await store.database.searchDocuments("resume").count == 2)
        #expect(try await store.database.searchDocuments("\"unbalanced AND OR ( NEAR").isEmpty)
        #expect(try await store.database.searchDocuments("   ").isEmpty)
        #expect(try await store.database.searchDocuments("resume\u{0}zoe", owner: .chat(1)).map(\.sha256) == [mine.documentSHA256])
        #expect(try await store.database.searchDocuments("\u{0}").isEmpty)
    }

    @Test("a Telegram job is answered once its analysis is done, even while archiving still retries")
    func answerBeforeArchive() async throws {
        let store = try TestStore()
        defer { store.remove() }
        let document = try await DocumentIntake(blobs: store.blobs).take(data: try distinctDocument(8), displayName: "a.webp")
        _ = try await store.database.saveDocument(document)
        let (job, _) = try await store.database.enqueue(documentSHA256: document.sha256,
                                                        request: JobRequest(origin: .telegram, sourceName: "a.webp", chatID: 5, messageID: 1),
                                                        steps: ["analyze", "archive"])
        #expect(try await store.database.unnotifiedJobs(answerStep: "analyze").isEmpty)
        let claimed = try #require(try await store.database.claimNextJob(owner: "w", leaseSeconds: 10))
        let archiving = try #require(try await store.database.finishStep(claimed, output: Data("{}".utf8), milliseconds: 1))
        _ = try await store.database.failStep(archiving, error: "S3 unreachable", retryAt: .now + 600, maxAttempts: 10)
        let waiting = try await store.database.unnotifiedJobs(answerStep: "analyze")
        #expect(waiting.map(\.job.id) == [job.id])
        #expect(waiting.first?.job.state == .queued)
        #expect(try await !store.database.hasUnfinishedJobs(ignoring: ["archive"]))
        #expect(try await store.database.hasUnfinishedJobs())
    }
}

@Suite("Group commit of document bytes")
struct SyncBatcherTests {
    @Test("many concurrent writers all return once flushed, sharing flushes; an unusable folder is an error for each")
    func batched() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let batcher = SyncBatcher(folder: folder.path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<64 {
                group.addTask {
                    try Data("document \(index)".utf8).write(to: folder.appendingPathComponent("\(index)"))
                    try await batcher.sync()
                }
            }
            try await group.waitForAll()
        }
        try await batcher.sync()
        let missing = SyncBatcher(folder: folder.appendingPathComponent("gone").path)
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 { group.addTask { (try? await missing.sync()) == nil } }
            for await failed in group { #expect(failed) }
        }
    }
}
