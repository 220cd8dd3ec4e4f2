import Foundation
import Storage
import Testing

/// The other store protocols' contracts — documents and search, groups, the Telegram inbox, the reply outbox,
/// the whitelist and the usage ledger — the same tests for SQLite and PostgreSQL.
@Suite("Store contract (SQLite and PostgreSQL)")
struct StoreContractTests {
    private func telegramJob(_ store: any GatewayStore, seed: Int, chat: Int64, group: Int64? = nil, message: Int64? = nil,
                             text: String? = nil, now: Timestamp = 1_000) async throws -> JobRecord {
        var record = document(seed)
        record.ocrText = text
        let request = JobRequest(origin: .telegram, sourceName: "scan-\(seed).png", groupID: group, chatID: chat, userID: chat,
                                 messageID: message ?? Int64(seed), sourceKey: "tg:\(seed)")
        return try await store.enqueue([(record, request)], steps: ["ocr", "analyze"], now: now)[0].job
    }

    /// Runs a job's steps to the end.
    private func finish(_ store: any GatewayStore, now: Timestamp = 1_000) async throws {
        while var claimed = try await store.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: now) {
            while let next = try await store.finishStep(claimed, output: Data("{}".utf8), usage: StepUsage(), milliseconds: 1, outcome: .done,
                                                        documentText: nil, now: now) {
                claimed = next
            }
        }
    }

    @Test("documents are stored once by content; search finds own documents only, every word, with a marked snippet",
          arguments: StoreKind.allCases)
    func documentsAndSearch(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let saved = try await store.saveDocument(document(1))
            #expect(try await store.saveDocument(document(1)) == saved)
            #expect(try await store.document(sha256: document(1).sha256)?.originalName == "doc-1.png")
            #expect(try await store.document(sha256: "missing") == nil)
            _ = try await telegramJob(store, seed: 2, chat: 10, text: "ACME TRADING receipt total 10.90 thank you")
            _ = try await telegramJob(store, seed: 3, chat: 20, text: "ACME invoice for consulting services")
            let hits = try await store.searchDocuments("acme total", owner: .chat(10), limit: 10)
            #expect(hits.count == 1)
            #expect(hits.first?.name == "scan-2.png")
            #expect(hits.first?.snippet.contains("«") == true)
            #expect(try await store.searchDocuments("acme", owner: .chat(20), limit: 10).map(\.name) == ["scan-3.png"])
            #expect(try await store.searchDocuments("acme", owner: nil, limit: 10).count == 2)
            #expect(try await store.searchDocuments("acme", owner: .chat(30), limit: 10).isEmpty)
            #expect(try await store.searchDocuments("\u{0}  \"OR\" *", owner: .chat(10), limit: 10).isEmpty)
            #expect(try await store.searchDocuments("   ", owner: .chat(10), limit: 10).isEmpty)
        }
    }

    @Test("search for any of several words: word beginnings match, own documents only, no query syntax gets through",
          arguments: StoreKind.allCases)
    func searchAnyWord(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            _ = try await telegramJob(store, seed: 2, chat: 10, text: "CORNER CAFE receipts total 8.25 cafe latte")
            _ = try await telegramJob(store, seed: 3, chat: 10, text: "ACME Office Supplies invoice")
            _ = try await telegramJob(store, seed: 4, chat: 10, text: "Northwind letter")
            _ = try await telegramJob(store, seed: 5, chat: 20, text: "CORNER CAFE receipt of someone else")
            let hits = try await store.searchDocuments(anyOf: ["cafe", "receipt", "acme"], owner: .chat(10), limit: 10)
            #expect(Set(hits.map(\.name)) == ["scan-2.png", "scan-3.png"])
            #expect(try await store.searchDocuments(anyOf: ["northw"], owner: .chat(10), limit: 10).map(\.name) == ["scan-4.png"])
            #expect(try await store.searchDocuments(anyOf: ["cafe"], owner: .chat(20), limit: 10).map(\.name) == ["scan-5.png"])
            #expect(try await store.searchDocuments(anyOf: ["cafe"], owner: .chat(10), limit: 1).count == 1)
            #expect(try await store.searchDocuments(anyOf: ["\u{0}", "\"OR\"", "*", ":*|!", "'"], owner: .chat(10), limit: 10).isEmpty)
            #expect(try await store.searchDocuments(anyOf: ["acme:*|cafe"], owner: .chat(10), limit: 10).count == 2, "punctuation splits words")
            #expect(try await store.searchDocuments(anyOf: [], owner: .chat(10), limit: 10).isEmpty)
        }
    }

    @Test("the ask quota counts per user and UTC day up to the limit, nothing past it, and starts again the next day",
          arguments: StoreKind.allCases)
    func askQuota(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let day: Timestamp = 86_400 * 20_000 + 100
            #expect(try await store.admitQuestion(userID: 1, limit: 2, now: day) == 1)
            #expect(try await store.admitQuestion(userID: 1, limit: 2, now: day + 10) == 2)
            #expect(try await store.admitQuestion(userID: 1, limit: 2, now: day + 20) == nil)
            #expect(try await store.admitQuestion(userID: 1, limit: 2, now: day + 30) == nil)
            #expect(try await store.admitQuestion(userID: 2, limit: 2, now: day + 30) == 1, "another user has their own count")
            #expect(try await store.admitQuestion(userID: 1, limit: 3, now: day + 40) == 3, "a raised limit lets the next one in")
            #expect(try await store.admitQuestion(userID: 1, limit: 2, now: day + 86_400) == 1, "a new UTC day")
            #expect(try await store.admitQuestion(userID: 1, limit: 0, now: day + 86_401) == nil)
            // Concurrent asks never pass the limit.
            let admitted = try await withThrowingTaskGroup(of: Int?.self) { group in
                for _ in 0..<12 { group.addTask { try await store.admitQuestion(userID: 3, limit: 5, now: day) } }
                return try await group.reduce(into: [Int]()) { if let count = $1 { $0.append(count) } }
            }
            #expect(admitted.sorted() == [1, 2, 3, 4, 5])
        }
    }

    @Test("a chat's settings default to off, are set per chat, changed again, and read back", arguments: StoreKind.allCases)
    func chatSettings(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            #expect(try await store.chatSettings(chatID: 10) == ChatSettings(attachSearchablePDF: false))
            try await store.setAttachSearchablePDF(true, chatID: 10, by: 1, now: 1_000)
            #expect(try await store.chatSettings(chatID: 10).attachSearchablePDF)
            #expect(try await store.chatSettings(chatID: 11).attachSearchablePDF == false)
            try await store.setAttachSearchablePDF(false, chatID: 10, by: 2, now: 1_001)
            #expect(try await store.chatSettings(chatID: 10).attachSearchablePDF == false)
            #expect(try await store.chatSettings(chatID: 10).albums == .auto)
            try await store.setAlbumMode(.separate, chatID: 10, by: 1, now: 1_002)
            try await store.setAlbumMode(.merge, chatID: 12, by: 1, now: 1_002)
            #expect(try await store.chatSettings(chatID: 10) == ChatSettings(attachSearchablePDF: false, albums: .separate))
            #expect(try await store.chatSettings(chatID: 12) == ChatSettings(attachSearchablePDF: false, albums: .merge))
            try await store.setAttachSearchablePDF(true, chatID: 12, by: 1, now: 1_003)
            #expect(try await store.chatSettings(chatID: 12) == ChatSettings(attachSearchablePDF: true, albums: .merge), "one choice keeps the other")
        }
    }

    private func page(_ seed: Int, message: Int64?, update: Int) -> PageSetItem {
        PageSetItem(document: document(seed), messageID: message, sourceKey: "tg:update:\(update)", addedAt: 0)
    }

    @Test("page sets: pages added once per update in message order, albums ready once quiet, /merge sets once done or quiet, each claimed by one sweeper",
          arguments: StoreKind.allCases)
    func pageSets(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let album = PageSetRecord(key: "album:5:G1", kind: .album, chatID: 5, userID: 7, messageID: 21, languageCode: "de", mode: .auto,
                                      createdAt: 1_000, lastAddedAt: 1_000)
            var added = try await store.addPage(page(1, message: 21, update: 1), to: album, now: 1_000)
            #expect(added.pages == 1 && added.set.messageID == 21 && added.set.mode == .auto && added.set.languageCode == "de")
            // Handled out of order: the earlier message becomes the one replied to; the same update twice adds nothing.
            added = try await store.addPage(page(2, message: 20, update: 2), to: album, now: 1_001)
            added = try await store.addPage(page(2, message: 20, update: 2), to: album, now: 1_001.5)
            #expect(added.pages == 2 && added.set.messageID == 20)
            let setID = try #require(added.set.id)
            #expect(try await store.pages(ofSet: setID).map(\.messageID) == [20, 21])
            #expect(try await store.pages(ofSet: setID).map(\.document.sha256) == [document(2).sha256,
                                                                                      document(1).sha256])
            #expect(try await store.isPagePending(sha256: document(1).sha256))

            // Not quiet yet; quiet but an update of the chat still waiting (the next photo, perhaps); then ready:
            // claimed once, not again while the claim holds, again after it.
            #expect(try await store.claimReadyPageSets(albumQuiet: 2, mergeQuiet: 60, leaseSeconds: 30, limit: 10, now: 1_002).isEmpty)
            #expect(try await store.recordUpdates([(77, 5, Data("{}".utf8))], now: 1_002) == 1)
            #expect(try await store.claimReadyPageSets(albumQuiet: 2, mergeQuiet: 60, leaseSeconds: 30, limit: 10, now: 1_004).isEmpty)
            try await store.finishUpdate(id: 77, error: nil, now: 1_003)
            #expect(try await store.claimReadyPageSets(albumQuiet: 2, mergeQuiet: 60, leaseSeconds: 30, limit: 10, now: 1_004).map(\.key) == ["album:5:G1"])
            #expect(try await store.claimReadyPageSets(albumQuiet: 2, mergeQuiet: 60, leaseSeconds: 30, limit: 10, now: 1_005).isEmpty)
            #expect(try await store.claimReadyPageSets(albumQuiet: 2, mergeQuiet: 60, leaseSeconds: 1_000, limit: 10, now: 1_040).map(\.key) == ["album:5:G1"])

            // /merge: one open set per user and chat, ready when closed (or quiet for long).
            let merge = try await store.openMergeSet(chatID: 5, userID: 7, languageCode: nil, now: 1_100)
            #expect(try await store.openMergeSet(chatID: 5, userID: 7, languageCode: nil, now: 1_101) == merge)
            #expect(try await store.openMergeSet(chatID: 5, userID: 8) == nil)
            #expect(try await store.openMergeSet(chatID: 5, userID: 7) == merge)
            added = try await store.addPage(page(3, message: 32, update: 3), to: merge, now: 1_102)
            #expect(added.pages == 1 && added.set.id == merge.id && added.set.kind == .merge && added.set.mode == .merge)
            #expect(try await store.claimReadyPageSets(albumQuiet: 2, mergeQuiet: 60, leaseSeconds: 30, limit: 10, now: 1_110).isEmpty)
            let mergeID = try #require(merge.id)
            #expect(try await store.closePageSet(id: mergeID, now: 1_111))
            #expect(try await store.closePageSet(id: mergeID, now: 1_112) == false)
            #expect(try await store.openMergeSet(chatID: 5, userID: 7) == nil)
            #expect(try await store.claimReadyPageSets(albumQuiet: 2, mergeQuiet: 60, leaseSeconds: 30, limit: 10, now: 1_113).map(\.key) == [merge.key])

            try await store.removePageSet(id: setID)
            try await store.removePageSet(id: mergeID)
            #expect(try await store.pages(ofSet: setID).isEmpty)
            #expect(try await store.isPagePending(sha256: document(1).sha256) == false)
            #expect(try await store.claimReadyPageSets(albumQuiet: 0, mergeQuiet: 0, leaseSeconds: 30, limit: 10, now: 5_000).isEmpty)
        }
    }

    @Test("groups are made once by key; jobs read back by code, group, chat and state", arguments: StoreKind.allCases)
    func groupsAndJobs(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let album = try await store.group(kind: .album, key: "album:1", title: "Album", chatID: 10, userID: 10, now: 1_000)
            #expect(try await store.group(kind: .album, key: "album:1", title: "Other", chatID: 10, userID: 10, now: 1_001) == album)
            let second = try await telegramJob(store, seed: 2, chat: 10, group: album.id, message: 2)
            let first = try await telegramJob(store, seed: 1, chat: 10, group: album.id, message: 1)
            _ = try await telegramJob(store, seed: 3, chat: 20)
            #expect(try await store.jobDetails(groupID: try #require(album.id)).map(\.job.code) == [second.code, first.code])
            let details = try #require(try await store.jobDetails(code: " \(first.code.lowercased()) "))
            #expect(details.steps.map(\.plugin) == ["ocr", "analyze"])
            #expect(details.document.sha256 == document(1).sha256)
            #expect(try await store.jobDetails(code: "NOSUCH") == nil)
            #expect(try await store.recentJobs(chatID: 10, limit: 1).map(\.job.code) == [first.code])
            #expect(try await store.jobs(state: .queued, limit: 10).count == 3)
            #expect(try await store.jobs(state: .done, limit: 10).isEmpty)
            #expect(try await store.jobDetails(since: nil).count == 3)
            #expect(try await store.jobDetails(since: 2_000).isEmpty)
            try await store.touchGroup(id: try #require(album.id), now: 1_500)
            try await store.markConsolidated(groupID: try #require(album.id), reportPath: "reports/album.md", now: 1_600)
            let updated = try await store.group(kind: .album, key: "album:1", title: "Album", chatID: 10, userID: 10, now: 1_700)
            #expect(updated.lastAddedAt == 1_500)
            #expect(updated.reportPath == "reports/album.md")
            #expect(updated.consolidatedAt == 1_600)
        }
    }

    @Test("a forgotten job takes its document when no other job uses it; not someone else's, not a running one", arguments: StoreKind.allCases)
    func forget(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let job = try await telegramJob(store, seed: 1, chat: 10)
            #expect(try await store.forgetJob(code: job.code, userID: 99) == nil)
            let claimed = try #require(try await store.claimNextJob(owner: "w", leaseSeconds: 60, groupID: nil, now: 1_000))
            await #expect(throws: StorageError.self) { _ = try await store.forgetJob(code: job.code, userID: 10) }
            _ = try await store.failStep(claimed, error: "unreadable", retryAt: nil, maxAttempts: 1, usage: StepUsage(), now: 1_001)
            let forgotten = try #require(try await store.forgetJob(code: job.code, userID: 10))
            #expect(forgotten.orphanedDocument?.sha256 == document(1).sha256)
            #expect(try await store.jobDetails(code: job.code) == nil)
            #expect(try await store.document(sha256: document(1).sha256) == nil)
            #expect(try await store.forgetJob(code: job.code, userID: nil) == nil)
        }
    }

    @Test("updates are recorded once by update_id and handled in order per chat; a postponed one holds back its chat only",
          arguments: StoreKind.allCases)
    func inbox(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let payload = Data("{}".utf8)
            #expect(try await store.recordUpdates([(1, 10, payload), (2, 10, payload), (3, 20, payload), (4, nil, payload)], now: 1_000) == 4)
            #expect(try await store.recordUpdates([(2, 10, payload), (5, 20, payload)], now: 1_001) == 1)
            #expect(try await store.dueUpdateHeads(limit: 10, now: 1_001).map(\.updateID) == [1, 3, 4])
            try await store.postponeUpdate(id: 1, until: 1_100, reason: "download failed")
            #expect(try await store.dueUpdateHeads(limit: 10, now: 1_001).map(\.updateID) == [3, 4])
            #expect(try await store.nextDueUpdate(chatID: 10, now: 1_001) == nil)
            #expect(try await store.nextUpdateDue() == 1_000)
            try await store.finishUpdate(id: 3, error: nil, now: 1_002)
            #expect(try await store.nextDueUpdate(chatID: 20, now: 1_002)?.updateID == 5)
            let postponed = try #require(try await store.nextDueUpdate(chatID: 10, now: 1_100))
            #expect(postponed.updateID == 1)
            #expect(postponed.attempts == 1)
            #expect(try await store.lastUpdateID() == 5)
        }
    }

    @Test("a reply is queued once per key, sent oldest first per chat, claimed by one sender; interrupted ones are recovered",
          arguments: StoreKind.allCases)
    func outbox(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let payload = Data("{}".utf8)
            #expect(try await store.enqueueReply(OutboxRecord(chatID: 10, kind: "text", payload: payload, dedupeKey: "ack:1", now: 1_000)))
            #expect(try await store.enqueueReply(OutboxRecord(chatID: 10, kind: "text", payload: payload, dedupeKey: "command:2:0", now: 1_000)))
            #expect(try await store.enqueueReply(OutboxRecord(chatID: 10, kind: "text", payload: payload, dedupeKey: "ack:1", now: 1_001)) == false)
            #expect(try await store.enqueueReply(OutboxRecord(chatID: 20, kind: "text", payload: payload, dedupeKey: "command:3:0", now: 1_000)))
            #expect(try await store.chatsWithDueReplies(limit: 10, now: 1_000) == [10, 20])
            let head = try #require(try await store.nextDueReply(chatID: 10, now: 1_000))
            #expect(head.dedupeKey == "ack:1")
            #expect(try await store.beginSending(id: try #require(head.id), now: 1_000))
            #expect(try await store.beginSending(id: try #require(head.id), now: 1_000) == false)
            // The chat waits for its oldest reply; the other chat does not.
            #expect(try await store.nextDueReply(chatID: 10, now: 1_000) == nil)
            #expect(try await store.chatsWithDueReplies(limit: 10, now: 1_000) == [20])
            let other = try #require(try await store.nextDueReply(chatID: 20, now: 1_000))
            _ = try await store.beginSending(id: try #require(other.id), now: 1_000)
            try await store.markReplyFailed(id: try #require(other.id), error: "429", retryAt: 1_050, final: .failed)
            #expect(try await store.nextReplyDue() == 1_000)
            // A stop mid-send: the acknowledgement is dropped, not repeated.
            let recovered = try await store.recoverInterruptedReplies(olderThan: 0, now: 2_000)
            #expect(recovered.resent == 0)
            #expect(recovered.dropped == 1)
            let answer = try #require(try await store.nextDueReply(chatID: 10, now: 2_000))
            #expect(answer.dedupeKey == "command:2:0")
            #expect(try await store.beginSending(id: try #require(answer.id), now: 2_000))
            // A send begun a moment ago may be another gateway's, still under way: only a store's one owner, at
            // start, or a shared store, once no send could still be running, takes it back.
            let young = try await store.recoverInterruptedReplies(olderThan: 180, now: 2_010)
            #expect(young.resent == 0 && young.dropped == 0)
            if store.isShared {
                #expect(try await store.recoverInterruptedReplies(olderThan: 180, now: 2_181).resent == 1)
            } else {
                #expect(try await store.recoverInterruptedReplies(olderThan: 0, now: 2_001).resent == 1)
            }
            try await store.markReplySent(id: try #require(answer.id), now: 2_002)
            #expect(try await store.nextDueReply(chatID: 10, now: 3_000) == nil)
            #expect(try await store.nextDueReply(chatID: 20, now: 1_050)?.attempts == 1)
        }
    }

    @Test("a job's result is queued exactly once, when its answer is ready; an album gets one reply once all its jobs are answered",
          arguments: StoreKind.allCases)
    func telling(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            let album = try await store.group(kind: .album, key: "album:7", title: "Album", chatID: 10, userID: 10, now: 1_000)
            let single = try await telegramJob(store, seed: 1, chat: 10)
            _ = try await telegramJob(store, seed: 2, chat: 10, group: album.id, message: 2)
            try await store.touchGroup(id: try #require(album.id), now: 1_000)
            #expect(try await store.unnotifiedJobs(answerStep: "analyze", limit: 10).isEmpty)
            #expect(try await store.completedAlbums(quiet: 5, answerStep: "analyze", now: 1_010).isEmpty)
            try await finish(store)
            let ready = try await store.unnotifiedJobs(answerStep: "analyze", limit: 10)
            #expect(ready.map(\.job.code) == [single.code])
            let reply = OutboxRecord(chatID: 10, kind: "text", payload: Data("{}".utf8), dedupeKey: ReplyKey.result(jobID: try #require(single.id)),
                                     now: 1_001)
            // The result and its PDF, in that order, once.
            let pdf = OutboxRecord(chatID: 10, kind: "document", payload: Data("{}".utf8), dedupeKey: ReplyKey.searchablePDF(jobID: try #require(single.id)),
                                   now: 1_001)
            try await store.notify(jobID: try #require(single.id), replies: [reply, pdf], now: 1_001)
            try await store.notify(jobID: try #require(single.id), reply: reply, now: 1_002)
            let first = try #require(try await store.nextDueReply(chatID: 10, now: 1_002))
            #expect(first.dedupeKey == reply.dedupeKey)
            try await store.markReplySent(id: try #require(first.id), now: 1_002)
            #expect(try await store.nextDueReply(chatID: 10, now: 1_002)?.dedupeKey == pdf.dedupeKey)
            #expect(try await store.unnotifiedJobs(answerStep: "analyze", limit: 10).isEmpty)
            #expect(try await store.chatsWithDueReplies(limit: 10, now: 1_002) == [10])
            #expect(try await store.completedAlbums(quiet: 5, answerStep: "analyze", now: 1_002).isEmpty)
            let albums = try await store.completedAlbums(quiet: 5, answerStep: "analyze", now: 1_010)
            #expect(albums.map(\.group.id) == [album.id])
            #expect(albums.first?.jobs.count == 1)
            let albumReply = OutboxRecord(chatID: 10, kind: "text", payload: Data("{}".utf8),
                                          dedupeKey: ReplyKey.result(albumID: try #require(album.id)), now: 1_010)
            try await store.notify(groupID: try #require(album.id), reply: albumReply, now: 1_010)
            #expect(try await store.completedAlbums(quiet: 5, answerStep: "analyze", now: 1_020).isEmpty)
        }
    }

    @Test("the whitelist adds, promotes and removes; a stranger is answered once per interval; stats count everything",
          arguments: StoreKind.allCases)
    func whitelistAndUsage(kind: StoreKind) async throws {
        try await OpenStore.with(kind) { open in
            let store = open.store
            try await store.allow(userID: 5, role: .user, addedBy: 1, now: 1_000)
            try await store.allow(userID: 5, role: .admin, addedBy: 1, now: 1_001)
            try await store.allow(userID: 3, role: .user, addedBy: nil, now: 1_000)
            #expect(try await store.users().map(\.id) == [3, 5])
            #expect(try await store.user(id: 5)?.role == .admin)
            #expect(try await store.deny(userID: 3))
            #expect(try await store.deny(userID: 3) == false)
            #expect(try await store.mayAnswerStranger(userID: 77, interval: 3_600, now: 1_000))
            #expect(try await store.mayAnswerStranger(userID: 77, interval: 3_600, now: 2_000) == false)
            #expect(try await store.mayAnswerStranger(userID: 77, interval: 3_600, now: 4_601))
            _ = try await telegramJob(store, seed: 1, chat: 10)
            try await store.recordLLMUsage(purpose: "summary", groupID: nil, usage: StepUsage(model: "m", inputTokens: 100, outputTokens: 20, costUSD: 0.5),
                                           now: 1_000)
            let stats = try await store.stats()
            #expect(stats.jobs == [.queued: 1])
            #expect(stats.documents == 1)
            #expect(stats.users == 1)
            #expect(stats.inputTokens == 100)
            #expect(stats.outputTokens == 20)
            #expect(stats.costUSD == 0.5)
            #expect(stats.unfinishedSteps == ["ocr": 1, "analyze": 1])
        }
    }
}
