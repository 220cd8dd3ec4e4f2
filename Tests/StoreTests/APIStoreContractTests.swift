import Foundation
import Storage
import Testing

/// The HTTP API's part of the stores — tokens, a token's jobs, spend by day, and the callback outbox — the same
/// tests for SQLite and PostgreSQL.
@Suite("API store contract (SQLite and PostgreSQL)")
struct APIStoreContractTests {
    private func token(_ store: any GatewayStore, _ name: String, now: Timestamp = 1_000) async throws -> APITokenRecord {
        try await store.createToken(APITokenRecord(name: name, tokenHash: "hash-\(name)-\(now)", hint: "bgw_abcd", scopes: [.upload, .read],
                                                   rateLimit: 5, dailyQuota: 10, createdAt: now))
    }

    private func apiJob(_ store: any GatewayStore, seed: Int, token: Int64?, callback: String? = nil, group: Int64? = nil, text: String? = nil,
                        now: Timestamp = 1_000) async throws -> JobRecord {
        var record = document(seed)
        record.ocrText = text
        let request = JobRequest(origin: .api, sourceName: "upload-\(seed).png", groupID: group, sourceKey: "api:\(token ?? 0):\(seed)",
                                 tokenID: token, callbackURL: callback)
        return try await store.enqueue([(record, request)], steps: ["ocr"], now: now)[0].job
    }

    private func finishAll(_ store: any GatewayStore, now: Timestamp = 1_000) async throws {
        while let claimed = try await store.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: now) {
            _ = try await store.finishStep(claimed, output: Data("{}".utf8), usage: StepUsage(model: "m1", inputTokens: 10, outputTokens: 5, costUSD: 0.01),
                                           milliseconds: 1, outcome: .done, documentText: nil, now: now)
        }
    }

    @Test("tokens: made once per live name, found by hash, revoked, touched", arguments: StoreKind.allCases)
    func tokens(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let made = try await token(store, "ci")
            #expect(made.id != nil)
            #expect(made.scopes == [.upload, .read] && made.rateLimit == 5 && made.dailyQuota == 10)
            await #expect(throws: StorageError.self) { _ = try await token(store, "ci", now: 1_001) }
            #expect(try await store.apiToken(hash: made.tokenHash) == made)
            #expect(try await store.apiToken(hash: "nope") == nil)
            try await store.touchToken(id: try #require(made.id), now: 1_500)
            #expect(try await store.apiToken(hash: made.tokenHash)?.lastUsedAt == 1_500)
            #expect(try await store.revokeToken(name: "ci", now: 2_000))
            #expect(try await store.revokeToken(name: "ci", now: 2_001) == false)
            #expect(try await store.apiToken(hash: made.tokenHash)?.revokedAt == 2_000)
            // A revoked token's name is free again.
            let again = try await token(store, "ci", now: 3_000)
            #expect(try await store.apiTokens().map(\.id) == [made.id, again.id])
        }
    }

    @Test("a token's jobs: its own only, newest first, by state, time, cursor and document; counted for its quota; searched",
          arguments: StoreKind.allCases)
    func tokenJobs(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let a = try #require(try await token(store, "a").id), b = try #require(try await token(store, "b").id)
            let first = try await apiJob(store, seed: 1, token: a, text: "ACME receipt total", now: 1_000)
            let second = try await apiJob(store, seed: 2, token: a, now: 2_000)
            let other = try await apiJob(store, seed: 3, token: b, text: "ACME invoice", now: 2_500)
            #expect(try await store.jobs(matching: JobQuery(owner: .token(a)), limit: 10).map(\.code) == [second.code, first.code])
            #expect(try await store.jobs(matching: JobQuery(owner: .token(a)), limit: 1).map(\.code) == [second.code])
            #expect(try await store.jobs(matching: JobQuery(owner: .token(a), beforeID: second.id), limit: 10).map(\.code) == [first.code])
            #expect(try await store.jobs(matching: JobQuery(owner: .token(a), since: 1_500), limit: 10).map(\.code) == [second.code])
            #expect(try await store.jobs(matching: JobQuery(owner: .token(a), state: .done), limit: 10).isEmpty)
            #expect(try await store.jobs(matching: JobQuery(owner: .token(a), documentSHA256: document(3).sha256), limit: 10).isEmpty)
            #expect(try await store.jobs(matching: JobQuery(owner: .token(b), documentSHA256: document(3).sha256), limit: 10).map(\.code) == [other.code])
            #expect(try await store.jobs(matching: JobQuery(), limit: 10).count == 3)
            // An upload's "sent before?": its source key, among the token's own jobs only.
            #expect(try await store.jobs(matching: JobQuery(owner: .token(a), sourceKey: "api:\(a):2"), limit: 1).map(\.code) == [second.code])
            #expect(try await store.jobs(matching: JobQuery(owner: .token(b), sourceKey: "api:\(a):2"), limit: 1).isEmpty)
            #expect(try await store.jobs(matching: JobQuery(owner: .token(a), sourceKey: "api:\(a):9"), limit: 1).isEmpty)
            #expect(try await store.jobCount(tokenID: a, day: 0) == 2)
            #expect(try await store.jobCount(tokenID: b, day: 0) == 1)
            #expect(try await store.jobCount(tokenID: a, day: 1) == 0)
            // The next UTC day counts afresh; a job found again (the same bytes) is no new job.
            _ = try await apiJob(store, seed: 4, token: a, now: 86_400 + 10)
            _ = try await apiJob(store, seed: 4, token: a, now: 86_400 + 20)
            #expect(try await store.jobCount(tokenID: a, day: 1) == 1)
            #expect(try await store.jobCount(tokenID: a, day: 0) == 2)
            #expect(try await store.searchDocuments("acme", owner: .token(a), limit: 10).map(\.jobCode) == [first.code])
            #expect(try await store.searchDocuments("acme", owner: .token(b), limit: 10).map(\.jobCode) == [other.code])
            #expect(try await store.jobDetails(code: first.code)?.job.tokenID == a)
        }
    }

    @Test("spend by UTC day and model", arguments: StoreKind.allCases)
    func spending(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            _ = try await apiJob(store, seed: 1, token: nil, now: 86_400 * 3 + 10)
            try await finishAll(store, now: 86_400 * 3 + 20)
            try await store.recordLLMUsage(purpose: "summary", groupID: nil, usage: StepUsage(model: "m2", inputTokens: 1, outputTokens: 2, costUSD: 0.5),
                                           now: 86_400 * 4 + 5)
            let spent = try await store.spending(since: 86_400 * 3)
            #expect(spent == [
                Spending(day: "1970-01-04", model: "m1", calls: 1, inputTokens: 10, outputTokens: 5, costUSD: 0.01),
                Spending(day: "1970-01-05", model: "m2", calls: 1, inputTokens: 1, outputTokens: 2, costUSD: 0.5),
            ])
            #expect(try await store.spending(since: 86_400 * 4).count == 1)
        }
    }

    @Test("callbacks: one event per finished job and per finished API group, claimed once, kept body, retried, delivered",
          arguments: StoreKind.allCases)
    func callbacks(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let tokenID = try #require(try await token(store, "hooks").id)
            let group = try #require(try await store.group(kind: .api, key: "api:\(tokenID):g", title: "g", chatID: nil, userID: nil, now: 1_000).id)
            try await store.touchGroup(id: group, now: 1_000)
            let job = try await apiJob(store, seed: 1, token: tokenID, callback: "https://example.com/hook", group: group)
            _ = try await apiJob(store, seed: 2, token: tokenID)
            #expect(try await store.queueCallbackEvents(now: 1_001) == 0)
            try await finishAll(store, now: 1_002)
            // The job's event and, its group being over, the group's.
            #expect(try await store.queueCallbackEvents(now: 1_003) == 2)
            #expect(try await store.queueCallbackEvents(now: 1_004) == 0)
            let events = try await store.callbacks(jobID: try #require(job.id))
            #expect(events.map(\.event).sorted() == ["group.done", "job.done"])
            #expect(events.allSatisfy { $0.url == "https://example.com/hook" && $0.tokenID == tokenID && $0.state == .pending })
            #expect(events.first { $0.event == "job.done" }?.jobCode == job.code)
            #expect(Set(events.map(\.eventID)).count == 2)

            let claimed = try await store.claimCallbacks(limit: 10, leaseSeconds: 60, now: 1_010)
            #expect(claimed.count == 2 && claimed.allSatisfy { $0.attempts == 1 })
            #expect(try await store.claimCallbacks(limit: 10, leaseSeconds: 60, now: 1_020).isEmpty)
            let jobEvent = try #require(claimed.first { $0.event == "job.done" })
            #expect(try await store.keepCallbackPayload(id: jobEvent.id, payload: Data("first".utf8)) == Data("first".utf8))
            #expect(try await store.keepCallbackPayload(id: jobEvent.id, payload: Data("second".utf8)) == Data("first".utf8))
            try await store.callbackFailed(id: jobEvent.id, error: "receiver answered 503", retryAt: 2_000, now: 1_030)
            #expect(try await store.nextCallbackDue() == 1_003)
            // The group event's claim runs out: taken again. The job's is due at 2,000 with the first body.
            let retaken = try await store.claimCallbacks(limit: 10, leaseSeconds: 60, now: 1_071)
            #expect(retaken.map(\.event) == ["group.done"] && retaken.first?.attempts == 2)
            try await store.callbackFailed(id: try #require(retaken.first?.id), error: "gone", retryAt: nil, now: 1_080)
            #expect(try await store.claimCallbacks(limit: 10, leaseSeconds: 60, now: 1_999).isEmpty)
            let due = try await store.claimCallbacks(limit: 10, leaseSeconds: 60, now: 2_000)
            #expect(due.map(\.id) == [jobEvent.id] && due.first?.payload == Data("first".utf8) && due.first?.lastError == "receiver answered 503")
            try await store.callbackDelivered(id: jobEvent.id, now: 2_001)
            let final = try await store.callbacks(jobID: try #require(job.id))
            #expect(final.first { $0.event == "job.done" }?.state == .delivered)
            #expect(final.first { $0.event == "job.done" }?.deliveredAt == 2_001)
            #expect(final.first { $0.event == "group.done" }?.state == .failed)
            #expect(try await store.nextCallbackDue() == nil)

            // A new upload to the group owes a new group event once it is over too.
            try await store.touchGroup(id: group, now: 3_000)
            _ = try await apiJob(store, seed: 4, token: tokenID, callback: "https://example.com/hook", group: group, now: 3_000)
            try await finishAll(store, now: 3_001)
            #expect(try await store.queueCallbackEvents(now: 3_002) == 2)
        }
    }

    @Test("a failed job's event says so; retried and done, it owes another", arguments: StoreKind.allCases)
    func retriedJobEvents(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let tokenID = try #require(try await token(store, "hooks").id)
            let job = try await apiJob(store, seed: 1, token: tokenID, callback: "https://example.com/hook")
            let claimed = try #require(try await store.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: 1_000))
            #expect(try await store.failStep(claimed, error: "unreadable", retryAt: nil, maxAttempts: 1, usage: StepUsage(), now: 1_001) == .failed)
            #expect(try await store.queueCallbackEvents(now: 1_002) == 1)
            _ = try await store.retryJob(code: job.code, now: 1_003)
            #expect(try await store.queueCallbackEvents(now: 1_004) == 0)
            try await finishAll(store, now: 1_005)
            #expect(try await store.queueCallbackEvents(now: 1_006) == 1)
            #expect(try await store.callbacks(jobID: try #require(job.id)).map(\.event) == ["job.failed", "job.done"])
        }
    }
}
