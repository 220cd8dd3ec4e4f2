import Foundation
import PostgresStore
import Storage
import Testing

/// The `JobQueue` contract, the same tests for SQLite and PostgreSQL: what a claim, a lease, a step and a
/// retry promise, written down on the protocol.
@Suite("Job queue contract (SQLite and PostgreSQL)")
struct JobQueueContractTests {
    static let steps = ["ocr", "analyze", "archive"]

    private func withStore(_ kind: StoreKind, _ body: (OpenStore) async throws -> Void) async throws {
        try await OpenStore.with(kind, body)
    }

    private func enqueue(_ queue: any JobQueue, _ seeds: ClosedRange<Int>, group: Int64? = nil, now: Timestamp = 1_000) async throws -> [JobRecord] {
        let items = seeds.map { (document: document($0), request: JobRequest(origin: .batch, sourceName: "doc-\($0).png", groupID: group, sourceKey: "test:\($0)")) }
        return try await queue.enqueue(items, steps: Self.steps, now: now).map(\.job)
    }

    @Test("a source key or a document in its group makes one job; each job has its steps pending, in order", arguments: StoreKind.allCases)
    func enqueueOnce(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let first = try await enqueue(store.queue, 1...1)[0]
            let again = try await store.queue.enqueue([(document(1), JobRequest(origin: .batch, sourceName: "again", sourceKey: "test:1"))],
                                                      steps: Self.steps, now: 1_001)
            #expect(again[0].created == false)
            #expect(again[0].job.id == first.id)
            #expect(again[0].job.code == first.code)
            #expect(first.code.count == 6)
            let claimed = try #require(try await store.queue.claimNextJob(owner: "w1", leaseSeconds: 60, groupID: nil, now: 1_000))
            #expect(claimed.steps.map(\.plugin) == Self.steps)
            #expect(claimed.current == 0)
            #expect(claimed.currentStep.state == .running)
            #expect(claimed.currentStep.attempts == 1)
            #expect(claimed.steps.dropFirst().allSatisfy { $0.state == .pending })
            #expect(claimed.document.sha256 == document(1).sha256)
            #expect(try await store.queue.jobCounts(groupID: nil) == [.running: 1])
        }
    }

    @Test("steps finish in order, their output and usage kept, and the job is done after the last", arguments: StoreKind.allCases)
    func stepsInOrder(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            _ = try await enqueue(store.queue, 1...1)
            var claimed = try #require(try await store.queue.claimNextJob(owner: "w1", leaseSeconds: 60, groupID: nil, now: 1_000))
            let text = DocumentText(text: "TOTAL 10.90", result: Data("{}".utf8), pages: 1)
            claimed = try #require(try await store.queue.finishStep(claimed, output: Data("ocr".utf8), usage: StepUsage(), milliseconds: 5, outcome: .done,
                                                                    documentText: text, now: 1_001))
            #expect(claimed.current == 1)
            #expect(claimed.document.ocrText == "TOTAL 10.90")
            claimed = try #require(try await store.queue.finishStep(claimed, output: Data("analysis".utf8),
                                                                    usage: StepUsage(model: "m", inputTokens: 10, outputTokens: 5, costUSD: 0.25),
                                                                    milliseconds: 7, outcome: .done, documentText: nil, now: 1_002))
            #expect(claimed.current == 2)
            #expect(claimed.steps[1].output == Data("analysis".utf8))
            #expect(claimed.steps[1].costUSD == 0.25)
            let done = try await store.queue.finishStep(claimed, output: Data(), usage: StepUsage(), milliseconds: 1, outcome: .done,
                                                        documentText: nil, now: 1_003)
            #expect(done == nil)
            #expect(try await store.queue.jobCounts(groupID: nil) == [.done: 1])
            #expect(try await store.queue.claimNextJob(owner: "w1", leaseSeconds: 60, groupID: nil, now: 2_000) == nil)
            #expect(try await store.queue.nextDueTime(groupID: nil) == nil)
            #expect(try await store.audit.completedRunCounts(plugin: "analyze") == [claimed.jobID: 1])
        }
    }

    @Test("many workers claiming at once never share a job: every step completes exactly once", arguments: StoreKind.allCases)
    func concurrentClaims(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let jobs = try await enqueue(store.queue, 1...60)
            let queue = store.queue
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        while var claimed = try await queue.claimNextJob(owner: "w\(worker)", leaseSeconds: 60, groupID: nil, now: 1_000) {
                            while let next = try await queue.finishStep(claimed, output: Data(), usage: StepUsage(), milliseconds: 1, outcome: .done,
                                                                        documentText: nil, now: 1_000) {
                                claimed = next
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await queue.jobCounts(groupID: nil) == [.done: 60])
            for step in Self.steps {
                let counts = try await store.audit.completedRunCounts(plugin: step)
                #expect(counts.count == 60)
                #expect(counts.values.allSatisfy { $0 == 1 })
            }
            let runs = try await store.audit.stepRuns(jobID: try #require(jobs[0].id))
            #expect(runs.map(\.outcome) == [.done, .done, .done])
            #expect(Set(runs.map(\.owner)).count == 1)
        }
    }

    @Test("claims and finished steps asked for at the same time are each recorded as if alone; a stale one among them records nothing",
          arguments: StoreKind.allCases)
    func togetherAsAlone(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            _ = try await enqueue(store.queue, 1...6)
            let queue = store.queue
            // Eight loops ask at once for six jobs: six get one each, leased to them, two get none.
            let claims = try await withThrowingTaskGroup(of: (owner: String, job: ClaimedJob?).self) { group in
                for worker in 0..<8 { group.addTask { ("w\(worker)", try await queue.claimNextJob(owner: "w\(worker)", leaseSeconds: 60, groupID: nil, now: 1_000)) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let claimed = claims.compactMap(\.job)
            #expect(claimed.count == 6)
            #expect(Set(claimed.map(\.jobID)).count == 6)
            for (owner, job) in claims { if let job { #expect(job.job.leaseOwner == owner) } }
            // One of them lost its lease meanwhile (taken over after it ran out): only that one records nothing.
            let taker = try #require(try await queue.claimNextJob(owner: "late", leaseSeconds: 60, groupID: nil, now: 1_061))
            let stale = try #require(claimed.first { $0.jobID == taker.jobID })
            let finishes = try await withThrowingTaskGroup(of: (Int64, Result<ClaimedJob?, StorageError>).self) { group in
                for (index, job) in claimed.enumerated() {
                    group.addTask {
                        let usage = StepUsage(model: "m\(index)", inputTokens: index, outputTokens: 2 * index, costUSD: Double(index) / 4)
                        let text = DocumentText(text: "text \(index)", result: Data("{}".utf8), pages: index + 1)
                        do {
                            return (job.jobID, .success(try await queue.finishStep(job, output: Data("out \(index)".utf8), usage: usage,
                                                                                   milliseconds: Double(index), outcome: .done, documentText: text, now: 1_062)))
                        } catch let error as StorageError {
                            return (job.jobID, .failure(error))
                        }
                    }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(finishes[stale.jobID] == .failure(.leaseLost(jobID: stale.jobID)))
            for (index, job) in claimed.enumerated() where job.jobID != stale.jobID {
                guard case .success(.some(let next))? = finishes[job.jobID] else {
                    Issue.record("job \(job.jobID): \(String(describing: finishes[job.jobID]))")
                    continue
                }
                #expect(next.current == 1)
                #expect(next.currentStep.state == .running)
                #expect(next.document.ocrText == "text \(index)")
                let details = try #require(try await store.store.jobDetails(code: job.job.code))
                #expect(details.steps[0].output == Data("out \(index)".utf8))
                #expect(details.steps[0].model == "m\(index)")
                #expect(details.steps[0].outputTokens == 2 * index)
                #expect(details.steps[0].costUSD == Double(index) / 4)
                #expect(details.steps[1].state == .running)
                #expect(details.steps[1].attempts == 1)
                #expect(details.document.pages == index + 1)
                let runs = try await store.audit.stepRuns(jobID: job.jobID)
                #expect(runs.map(\.outcome) == [.done, .running])
                #expect(runs.allSatisfy { $0.owner == job.job.leaseOwner })
            }
            // The stale loop's step is the taker's to finish, once.
            #expect(try await store.audit.stepRuns(jobID: stale.jobID).map(\.outcome) == [.abandoned, .running])
        }
    }

    @Test("a batch run's claim and a gateway's claim asked at once each get a job, the batch run one of its own group", arguments: StoreKind.allCases)
    func groupsTogether(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let group = try await store.store.group(kind: .batch, key: "folder", title: "folder", chatID: nil, userID: nil, now: 1_000)
            let loose = try await enqueue(store.queue, 1...1)
            let grouped = try await enqueue(store.queue, 2...2, group: group.id)
            let queue = store.queue
            async let batch = queue.claimNextJob(owner: "batch", leaseSeconds: 60, groupID: group.id, now: 1_000)
            async let gateway = queue.claimNextJob(owner: "gateway", leaseSeconds: 60, groupID: nil, now: 1_000)
            let (inGroup, any) = (try await batch, try await gateway)
            #expect(inGroup?.jobID == grouped[0].id)
            #expect(inGroup?.job.leaseOwner == "batch")
            #expect(any?.jobID == loose[0].id)
            #expect(any?.job.leaseOwner == "gateway")
        }
    }

    @Test("a lease that ran out is taken over; the first worker, holding an old token, can record nothing", arguments: StoreKind.allCases)
    func leaseTakeover(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            _ = try await enqueue(store.queue, 1...1)
            let first = try #require(try await store.queue.claimNextJob(owner: "w1", leaseSeconds: 10, groupID: nil, now: 1_000))
            #expect(try await store.queue.claimNextJob(owner: "w2", leaseSeconds: 10, groupID: nil, now: 1_005) == nil)
            #expect(try await store.queue.nextDueTime(groupID: nil) == 1_010)
            // The same worker name claiming again after the lease ran out still gets a new token.
            let second = try #require(try await store.queue.claimNextJob(owner: "w1", leaseSeconds: 10, groupID: nil, now: 1_011))
            #expect(second.reclaimed)
            #expect(second.job.leaseToken > first.job.leaseToken)
            #expect(second.currentStep.attempts == 2)
            await #expect(throws: StorageError.leaseLost(jobID: first.jobID)) {
                _ = try await store.queue.finishStep(first, output: Data(), usage: StepUsage(), milliseconds: 1, outcome: .done, documentText: nil, now: 1_012)
            }
            await #expect(throws: StorageError.leaseLost(jobID: first.jobID)) {
                _ = try await store.queue.failStep(first, error: "late", retryAt: nil, maxAttempts: 3, usage: StepUsage(), now: 1_012)
            }
            await #expect(throws: StorageError.leaseLost(jobID: first.jobID)) { try await store.queue.releaseJob(first, until: 1_012, reason: nil, now: 1_012) }
            #expect(try await store.queue.renewLease(jobID: second.jobID, owner: "w1", leaseSeconds: 10, now: 1_015))
            #expect(try await store.queue.renewLease(jobID: second.jobID, owner: "w3", leaseSeconds: 10, now: 1_015) == false)
            _ = try await store.queue.finishStep(second, output: Data(), usage: StepUsage(), milliseconds: 1, outcome: .done, documentText: nil, now: 1_016)
            let runs = try await store.audit.stepRuns(jobID: second.jobID)
            #expect(runs.prefix(2).map(\.outcome) == [.abandoned, .done])
        }
    }

    @Test("a failed step is retried when due while attempts are left, then fails the job; retry queues it again", arguments: StoreKind.allCases)
    func retries(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let job = try await enqueue(store.queue, 1...1)[0]
            var claimed = try #require(try await store.queue.claimNextJob(owner: "w1", leaseSeconds: 60, groupID: nil, now: 1_000))
            #expect(try await store.queue.failStep(claimed, error: "timeout", retryAt: 1_030, maxAttempts: 2,
                                                   usage: StepUsage(inputTokens: 3), now: 1_001) == .queued)
            #expect(try await store.queue.claimNextJob(owner: "w1", leaseSeconds: 60, groupID: nil, now: 1_029) == nil)
            #expect(try await store.queue.nextDueTime(groupID: nil) == 1_030)
            claimed = try #require(try await store.queue.claimNextJob(owner: "w1", leaseSeconds: 60, groupID: nil, now: 1_030))
            #expect(claimed.currentStep.attempts == 2)
            #expect(claimed.currentStep.inputTokens == 3)
            #expect(try await store.queue.failStep(claimed, error: "timeout again", retryAt: 1_060, maxAttempts: 2,
                                                   usage: StepUsage(), now: 1_031) == .failed)
            #expect(try await store.queue.jobCounts(groupID: nil) == [.failed: 1])
            await #expect(throws: StorageError.self) { _ = try await store.queue.retryJob(code: "NOSUCH", now: 1_100) }
            #expect(try await store.store.jobDetails(code: job.code)?.job.finishedAt == 1_031)
            let retried = try await store.queue.retryJob(code: job.code.lowercased(), now: 1_100)
            #expect(retried.state == .queued)
            #expect(retried.finishedAt == nil && retried.lastError == nil)
            let stored = try #require(try await store.store.jobDetails(code: job.code)?.job)
            #expect(stored.finishedAt == nil && stored.lastError == nil && stored.nextAttemptAt == 1_100)
            await #expect(throws: StorageError.self) { _ = try await store.queue.retryJob(code: job.code, now: 1_101) }
            let again = try #require(try await store.queue.claimNextJob(owner: "w1", leaseSeconds: 60, groupID: nil, now: 1_100))
            #expect(again.currentStep.plugin == "ocr")
            #expect(again.currentStep.attempts == 1)
        }
    }

    @Test("a job handed back at shutdown runs its step again without counting the attempt", arguments: StoreKind.allCases)
    func release(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            _ = try await enqueue(store.queue, 1...1)
            let claimed = try #require(try await store.queue.claimNextJob(owner: "w1", leaseSeconds: 60, groupID: nil, now: 1_000))
            try await store.queue.releaseJob(claimed, until: 1_001, reason: nil, now: 1_001)
            #expect(try await store.queue.jobCounts(groupID: nil) == [.queued: 1])
            let again = try #require(try await store.queue.claimNextJob(owner: "w2", leaseSeconds: 60, groupID: nil, now: 1_001))
            #expect(again.currentStep.attempts == 1)
            #expect(again.reclaimed == false)
            #expect(try await store.audit.stepRuns(jobID: again.jobID).map(\.outcome) == [.released, .running])
        }
    }

    @Test("a job handed back until later (its document store down) is not due before then, spends no attempt and says why",
          arguments: StoreKind.allCases)
    func releaseUntil(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            _ = try await enqueue(store.queue, 1...1)
            let claimed = try #require(try await store.queue.claimNextJob(owner: "w1", leaseSeconds: 60, groupID: nil, now: 1_000))
            try await store.queue.releaseJob(claimed, until: 1_030, reason: "the document store is down", now: 1_001)
            #expect(try await store.queue.claimNextJob(owner: "w2", leaseSeconds: 60, groupID: nil, now: 1_029) == nil)
            #expect(try await store.queue.nextDueTime(groupID: nil) == 1_030)
            let waiting = try #require(try await store.store.jobs(state: .queued, limit: 10).first)
            #expect(waiting.lastError == "the document store is down")
            let again = try #require(try await store.queue.claimNextJob(owner: "w2", leaseSeconds: 60, groupID: nil, now: 1_030))
            #expect(again.currentStep.attempts == 1)
            // The lease is checked as for every other write.
            await #expect(throws: StorageError.leaseLost(jobID: claimed.jobID)) {
                try await store.queue.releaseJob(claimed, until: 1_060, reason: "late", now: 1_031)
            }
        }
    }

    @Test("a job whose only unfinished step is deferrable does not count as unfinished; waiting jobs are counted and due in order",
          arguments: StoreKind.allCases)
    func unfinished(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            #expect(try await !store.queue.hasUnfinishedJobs(groupID: nil, ignoring: []))
            let jobs = try await enqueue(store.queue, 1...2)
            _ = try await enqueue(store.queue, 3...4, now: 5_000)
            #expect(try await store.queue.hasUnfinishedJobs(groupID: nil, ignoring: []))
            #expect(try await store.queue.nextDueTime(groupID: nil) == 1_000)
            // Everything but the archive step of the first job.
            var claimed = try #require(try await store.queue.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: 1_000))
            #expect(claimed.jobID == jobs[0].id)
            for _ in 0..<2 {
                claimed = try #require(try await store.queue.finishStep(claimed, output: Data(), usage: StepUsage(), milliseconds: 1, outcome: .done,
                                                                        documentText: nil, now: 1_000))
            }
            try await store.queue.releaseJob(claimed, until: 1_000, reason: nil, now: 1_000)
            #expect(try await store.queue.hasUnfinishedJobs(groupID: nil, ignoring: ["archive"]))
            #expect(try await store.queue.hasUnfinishedJobs(groupID: nil, ignoring: []))
            #expect(try await store.queue.jobCounts(groupID: nil) == [.queued: 4])
            // Not yet due: only the two enqueued for 1 000 can be claimed before 5 000.
            #expect(try await store.queue.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: 1_001)?.jobID == jobs[0].id)
            #expect(try await store.queue.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: 1_001)?.jobID == jobs[1].id)
            #expect(try await store.queue.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: 1_001) == nil)
        }
    }

    @Test("a batch run is over once its group has no job left but for deferrable steps; a leased job is unfinished", arguments: StoreKind.allCases)
    func unfinishedGroup(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let queue = store.queue
            let group = try await store.store.group(kind: .batch, key: "folder", title: "folder", chatID: nil, userID: nil, now: 1_000)
            let mine = try await enqueue(queue, 1...1, group: group.id)[0]
            let loose = try await enqueue(queue, 2...2)[0]
            #expect(try await queue.hasUnfinishedJobs(groupID: group.id, ignoring: ["archive"]))
            var claimed = try #require(try await queue.claimNextJob(owner: "batch", leaseSeconds: 60, groupID: group.id, now: 1_000))
            #expect(claimed.jobID == mine.id)
            #expect(try await queue.hasUnfinishedJobs(groupID: group.id, ignoring: ["archive"]))
            // All but its archive step done; the archive waits for later.
            for _ in 0..<2 {
                claimed = try #require(try await queue.finishStep(claimed, output: Data(), usage: StepUsage(), milliseconds: 1, outcome: .done,
                                                                  documentText: nil, now: 1_000))
            }
            try await queue.releaseJob(claimed, until: 9_000, reason: nil, now: 1_000)
            #expect(try await !queue.hasUnfinishedJobs(groupID: group.id, ignoring: ["archive"]))
            #expect(try await queue.hasUnfinishedJobs(groupID: group.id, ignoring: []))
            // Outside any group: the loose job, first waiting, then leased.
            #expect(try await queue.hasUnfinishedJobs(groupID: nil, ignoring: ["archive"]))
            var other = try #require(try await queue.claimNextJob(owner: "gateway", leaseSeconds: 60, groupID: nil, now: 1_000))
            #expect(other.jobID == loose.id)
            #expect(try await queue.hasUnfinishedJobs(groupID: nil, ignoring: ["archive"]))
            for _ in 0..<2 {
                other = try #require(try await queue.finishStep(other, output: Data(), usage: StepUsage(), milliseconds: 1, outcome: .done,
                                                                documentText: nil, now: 1_000))
            }
            #expect(try await queue.finishStep(other, output: Data(), usage: StepUsage(), milliseconds: 1, outcome: .done,
                                               documentText: nil, now: 1_000) == nil)
            #expect(try await !queue.hasUnfinishedJobs(groupID: nil, ignoring: ["archive"]))
            #expect(try await queue.hasUnfinishedJobs(groupID: nil, ignoring: []))
        }
    }

    @Test("leases of owners known to be dead end now, so their jobs are taken over at once", arguments: StoreKind.allCases)
    func deadOwners(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            _ = try await enqueue(store.queue, 1...2)
            _ = try #require(try await store.queue.claimNextJob(owner: "dead", leaseSeconds: 600, groupID: nil, now: 1_000))
            _ = try #require(try await store.queue.claimNextJob(owner: "alive", leaseSeconds: 600, groupID: nil, now: 1_000))
            #expect(try await store.queue.expireLeases(ofDeadOwners: { $0 == "alive" }, now: 1_001) == 1)
            let taken = try #require(try await store.queue.claimNextJob(owner: "new", leaseSeconds: 600, groupID: nil, now: 1_001))
            #expect(taken.reclaimed)
            #expect(try await store.queue.claimNextJob(owner: "new2", leaseSeconds: 600, groupID: nil, now: 1_001) == nil)
        }
    }
}
