import Foundation
import Storage
import Testing

/// The dashboard's part of the stores — sign-in links, the pause switch, filtered job pages, bulk retry and
/// cancel, the overview's counts and the costs — the same tests for SQLite and PostgreSQL.
@Suite("Dashboard store contract (SQLite and PostgreSQL)")
struct DashboardStoreContractTests {
    private func job(_ store: any GatewayStore, seed: Int, origin: JobOrigin = .telegram, user: Int64? = 7, now: Timestamp = 1_000) async throws -> JobRecord {
        let request = JobRequest(origin: origin, sourceName: "doc-\(seed).png", chatID: user, userID: user, sourceKey: "seed:\(seed)")
        return try await store.enqueue([(document(seed), request)], steps: ["ocr", "analyze"], now: now)[0].job
    }

    @Test("a sign-in link works once, before it expires; unknown ones are unknown", arguments: StoreKind.allCases)
    func signInLinks(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            try await store.createSignInLink(hash: "h1", userID: 42, expiresAt: 1_600, now: 1_000)
            try await store.createSignInLink(hash: "h2", userID: 42, expiresAt: 1_600, now: 1_000)
            #expect(try await store.useSignInLink(hash: "h1", now: 1_100) == .valid(userID: 42))
            #expect(try await store.useSignInLink(hash: "h1", now: 1_101) == .used)
            #expect(try await store.useSignInLink(hash: "h2", now: 1_601) == .expired)
            #expect(try await store.useSignInLink(hash: "nope", now: 1_100) == .unknown)
        }
    }

    @Test("paused, the gateway's workers claim nothing; a batch run's group still runs; resumed, work goes on", arguments: StoreKind.allCases)
    func pause(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let group = try await store.group(kind: .batch, key: "folder", title: "folder", chatID: nil, userID: nil, now: 1_000)
            _ = try await job(store, seed: 1)
            let request = JobRequest(origin: .batch, sourceName: "b.png", groupID: group.id, sourceKey: "batch:2")
            _ = try await store.enqueue([(document(2), request)], steps: ["ocr"], now: 1_000)
            #expect(try await store.pipelinePaused() == false)
            try await store.setPipelinePaused(true, by: 1, now: 1_000)
            #expect(try await store.pipelinePaused())
            #expect(try await store.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: 1_001) == nil)
            #expect(try await store.claimNextJob(owner: "w", leaseSeconds: 60, groupID: group.id, now: 1_001)?.job.sourceName == "b.png")
            #expect(try await store.overview(now: 1_001).paused)
            try await store.setPipelinePaused(false, by: 1, now: 1_002)
            #expect(try await store.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: 1_003)?.job.sourceName == "doc-1.png")
        }
    }

    @Test("job pages: filtered by state, origin, step, user and date, newest first, cursor by id, counted", arguments: StoreKind.allCases)
    func jobPages(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            for seed in 1...5 { _ = try await job(store, seed: seed, origin: .telegram, user: 7, now: 86_400 + Double(seed)) }
            for seed in 6...8 { _ = try await job(store, seed: seed, origin: .batch, user: nil, now: 2 * 86_400 + Double(seed)) }
            // One job past its first step: it is at `analyze`.
            let claimed = try #require(try await store.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: 3 * 86_400))
            _ = try await store.finishStep(claimed, output: Data("{}".utf8), usage: StepUsage(), milliseconds: 1, outcome: .done, documentText: nil,
                                           now: 3 * 86_400)
            let all = try await store.jobRows(JobFilter(), beforeID: nil, limit: 100)
            #expect(all.map(\.job.sourceName) == (1...8).reversed().map { "doc-\($0).png" })
            let firstPage = try await store.jobRows(JobFilter(), beforeID: nil, limit: 3)
            let secondPage = try await store.jobRows(JobFilter(), beforeID: firstPage.last?.job.id, limit: 3)
            #expect(secondPage.map(\.job.sourceName) == ["doc-5.png", "doc-4.png", "doc-3.png"])
            #expect(try await store.countJobs(JobFilter(origin: .batch)) == 3)
            #expect(try await store.countJobs(JobFilter(userID: 7)) == 5)
            #expect(try await store.countJobs(JobFilter(createdFrom: 2 * 86_400)) == 3)
            #expect(try await store.countJobs(JobFilter(createdBefore: 2 * 86_400)) == 5)
            let atAnalyze = try await store.jobRows(JobFilter(step: "analyze"), beforeID: nil, limit: 10)
            #expect(atAnalyze.map(\.job.id) == [claimed.job.id])
            #expect(atAnalyze.first?.step == "analyze" && atAnalyze.first?.attempts == 2)
            #expect(try await store.countJobs(JobFilter(step: "ocr")) == 7)
            #expect(try await store.countJobs(JobFilter(state: .running)) == 1)
        }
    }

    @Test("cancel fails the matching queued and running jobs (a running one's worker records nothing); retry queues them again",
          arguments: StoreKind.allCases)
    func cancelAndRetry(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            for seed in 1...3 { _ = try await job(store, seed: seed, origin: .api, user: nil) }
            _ = try await job(store, seed: 4, origin: .telegram)
            let running = try #require(try await store.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: 1_000))
            #expect(try await store.cancelJobs(JobFilter(origin: .api), reason: "Cancelled by an admin.", now: 1_010) == 3)
            #expect(try await store.countJobs(JobFilter(state: .failed)) == 3)
            #expect(try await store.jobs(matching: JobQuery(state: .queued), limit: 10).map(\.sourceName) == ["doc-4.png"])
            // The worker that held the cancelled job can record nothing for it.
            let recorded = try? await store.finishStep(running, output: Data("{}".utf8), usage: StepUsage(), milliseconds: 1, outcome: .done,
                                                      documentText: nil, now: 1_020)
            #expect(recorded == nil)
            let cancelled = try #require(try await store.jobDetails(code: running.job.code))
            #expect(cancelled.job.state == .failed && cancelled.job.lastError == "Cancelled by an admin.")
            #expect(cancelled.steps.first?.state == .failed)
            // Retry only touches failed jobs of the filter.
            #expect(try await store.retryJobs(JobFilter(origin: .telegram), now: 1_030) == 0)
            #expect(try await store.retryJobs(JobFilter(origin: .api), now: 1_030) == 3)
            #expect(try await store.countJobs(JobFilter(state: .queued)) == 4)
            let again = try #require(try await store.jobDetails(code: running.job.code))
            #expect(again.job.lastError == nil && again.steps.first?.state == .pending)
        }
    }

    @Test("the overview counts the queue by step, the hours and days, failures and spend; costs slice the spend", arguments: StoreKind.allCases)
    func overviewAndCosts(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let now: Timestamp = 100 * 86_400 + 12 * 3600 + 30
            _ = try await job(store, seed: 1, now: now - 10)
            _ = try await job(store, seed: 2, now: now - 3 * 3600)
            _ = try await job(store, seed: 3, user: 9, now: now - 5 * 86_400)
            // Job 3 (the oldest due) is analysed at a price, then fails.
            var claimed = try #require(try await store.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: now))
            #expect(claimed.job.userID == 9)
            claimed = try #require(try await store.finishStep(claimed, output: Data("{}".utf8), usage: StepUsage(), milliseconds: 1, outcome: .done,
                                                              documentText: nil, now: now))
            _ = try await store.failStep(claimed, error: "bad", retryAt: nil, maxAttempts: 1,
                                         usage: StepUsage(model: "claude-x", inputTokens: 100, outputTokens: 20, costUSD: 0.5), now: now)
            try await store.recordLLMUsage(purpose: "report-summary", groupID: nil, usage: StepUsage(model: "claude-x", inputTokens: 10, outputTokens: 5,
                                                                                                      costUSD: 0.25), now: now)
            try await store.recordLLMUsage(purpose: "ask", groupID: nil, userID: 7, usage: StepUsage(model: "claude-x", inputTokens: 10, outputTokens: 5,
                                                                                                    costUSD: 0.125), now: now)
            let overview = try await store.overview(now: now)
            #expect(overview.queue == [QueueDepth(step: "ocr", queued: 2, running: 0)])
            #expect(overview.perHour.count == 24 && overview.perHour.last == 1 && overview.perHour[20] == 1 && overview.perHour.reduce(0, +) == 2)
            #expect(overview.perDay.count == 30 && overview.perDay.last == 2 && overview.perDay[24] == 1)
            #expect(overview.finishedLastDay == 1 && overview.failedLastDay == 1)
            #expect(abs(overview.spendTodayUSD - 0.875) < 1e-9)
            let costs = try await store.costs(since: now - 86_400, now: now)
            #expect(costs.byModel.map(\.label) == ["claude-x"] && costs.byModel.first?.calls == 3)
            #expect(Set(costs.byUser.map(\.label)) == ["user 9", "reports", "user 7"])
            #expect(Set(costs.byAnalyser.map(\.label)) == ["analyze", "report-summary", "ask"])
            #expect(costs.topDocuments.map(\.jobCode) == [claimed.job.code])
            #expect(costs.byDay.count == 1 && abs(costs.byDay[0].costUSD - 0.875) < 1e-9)
            #expect(try await store.lastActivity() == [7: now - 10, 9: now - 5 * 86_400])
        }
    }
}
