import Foundation
import Logging
import Plugins
import ServiceLifecycle
import Storage

/// A nudge between services ("an update arrived", "a job finished") so loops wake at once instead of
/// waiting for their next poll. Nudges coalesce; losing one only costs a poll interval.
public final class Signal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func fire() {
        continuation.yield()
    }

    /// Returns when fired or after `timeout`, whichever comes first.
    func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [stream] in
                var iterator = stream.makeAsyncIterator()
                _ = await iterator.next()
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }
}

/// Handles recorded updates: one chat's in `update_id` order, different chats at the same time (up to
/// `concurrentChats`). An update that must wait (Telegram or the disk unavailable) is postponed with backoff
/// and holds up only the later updates of its own chat.
struct UpdateProcessor: Service {
    /// While Telegram or the disk is unavailable: 0.5 s doubling up to 30 s between tries of one update.
    static let outage = RetryPolicy(maxAttempts: .max, baseDelay: 0.5, maxDelay: 30)
    static let concurrentChats = 8

    enum Lane: Hashable, Sendable {
        case chat(Int64)
        /// An update that names no chat stands alone.
        case update(Int64)
    }

    let database: AppDatabase
    let handler: UpdateHandler
    let arrived: Signal
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await ChatLanes<Lane>(limit: Self.concurrentChats, wake: arrived).run(due: { running in
                let heads = (try? await database.dueUpdateHeads()) ?? []
                let lanes = heads.map { $0.chatID.map(Lane.chat) ?? .update($0.updateID) }
                if !heads.isEmpty { return (lanes.filter { !running.contains($0) }, .milliseconds(500)) }
                return ([], Self.wait(until: (try? await database.nextUpdateDue()) ?? nil))
            }, drain: drain)
        }
    }

    /// A chat's due updates, in order, until one must wait or none is left.
    private func drain(_ lane: Lane) async {
        while !Task.isCancelled {
            let next: TelegramUpdateRecord?
            switch lane {
            case .chat(let chat): next = try? await database.nextDueUpdate(chatID: chat)
            case .update(let id): next = try? await database.dueUpdateHeads().first { $0.updateID == id }
            }
            guard let record = next, await handle(record), case .chat = lane else { return }
        }
    }

    /// True when the update is finished with (handled, or failed for good); false when it waits.
    private func handle(_ record: TelegramUpdateRecord) async -> Bool {
        do {
            switch try await handler.handle(record) {
            case .handled:
                try await database.finishUpdate(id: record.updateID)
                return true
            case .retryLater(let reason):
                await postpone(record, reason: reason)
                return false
            }
        } catch is CancellationError {
            return false
        } catch let error as StorageError where error.isTransient {
            // Our own database or disk: the update is kept and tried again, never dropped.
            await postpone(record, reason: error.description)
            return false
        } catch {
            logger.error("update failed", metadata: ["update": "\(record.updateID)", "error": "\(error)"])
            try? await database.finishUpdate(id: record.updateID, error: "\(error)")
            return true
        }
    }

    private func postpone(_ record: TelegramUpdateRecord, reason: String) async {
        let delay = Self.outage.delay(afterAttempt: record.attempts + 1, retryAfter: nil)
        logger.warning("update will be retried", metadata: ["update": "\(record.updateID)", "in": "\(Int(delay * 1000)) ms", "reason": "\(reason)"])
        try? await database.postponeUpdate(id: record.updateID, until: .now + delay, reason: reason)
    }

    /// How long to sleep when nothing is due: until the next postponed item, at most a second.
    static func wait(until next: Timestamp?) -> Duration {
        let seconds = next.map { max(0.01, min(1, $0 - .now)) } ?? 1
        return .milliseconds(Int(seconds * 1000))
    }
}

/// Turns finished Telegram jobs (and completed albums) into replies. Reading the state from the database
/// rather than from events means a reply is queued even when the process died right after the job ended.
struct NotificationSweeper: Service {
    let database: AppDatabase
    let dataDirectory: URL
    let finished: Signal
    let queued: Signal
    /// An album is complete once no item arrived for this long.
    let albumQuiet: Double
    let reports: ReportComposer
    let reportArchiver: ReportArchiver?
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    var sent = false
                    for details in try await database.unnotifiedJobs(answerStep: AnalyzePlugin.stepName) {
                        guard let chat = details.job.chatID, let jobID = details.job.id else { continue }
                        let payload = Self.payload(for: details, dataDirectory: dataDirectory)
                        try await database.notify(jobID: jobID, reply: payload.record(chatID: chat, dedupeKey: "result:job:\(jobID)"))
                        sent = true
                    }
                    for (group, jobs) in try await database.completedAlbums(quiet: albumQuiet, answerStep: AnalyzePlugin.stepName) {
                        guard let chat = group.chatID, let groupID = group.id else { continue }
                        let (report, summary) = try await Self.writeAlbumReport(group: group, jobs: jobs, dataDirectory: dataDirectory, reports: reports)
                        let payload = Self.albumPayload(jobs: jobs, report: report, summary: summary)
                        await archive(report, group: groupID)
                        try await database.notify(groupID: groupID, reply: payload.record(chatID: chat, dedupeKey: "result:album:\(groupID)"))
                        sent = true
                    }
                    if sent { queued.fire() }
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("could not queue replies", metadata: ["error": "\(error)"])
                }
                await finished.wait(timeout: .milliseconds(500))
            }
        }
    }

    /// Every album's consolidated report goes to the bucket when archiving is on, whether or not the
    /// answer was short enough for a message.
    private func archive(_ report: URL, group: Int64) async {
        guard let reportArchiver else { return }
        do {
            try await reportArchiver.archive(report, name: report.lastPathComponent)
        } catch {
            logger.warning("album report not archived", metadata: ["group": "\(group)", "error": "\(error)"])
        }
    }

    static func payload(for details: JobDetails, dataDirectory: URL) -> ReplyPayload {
        let text = Replies.analysis(details)
        if text.utf16.count <= Replies.messageLimit {
            return .message(text, replyTo: details.job.messageID)
        }
        // Too long for one message: the full analysis as a Markdown report.
        let markdown = ReportBuilder().markdown(title: details.job.sourceName, jobs: [details])
        let path = dataDirectory.appendingPathComponent("reports/job-\(details.job.code).md")
        try? FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? Data(markdown.utf8).write(to: path, options: .atomic)
        return .document(path: path.path, fileName: "\(details.job.code).md", caption: "Analysis of job <code>\(details.job.code)</code>",
                         replyTo: details.job.messageID)
    }

    /// The album's consolidated Markdown report, written once: sent when the answer is long, archived always.
    /// With an LLM analyser the report has an executive summary, which the reply also leads with.
    static func writeAlbumReport(group: GroupRecord, jobs: [JobDetails], dataDirectory: URL, reports: ReportComposer) async throws -> (URL, String?) {
        let path = dataDirectory.appendingPathComponent("reports/album-\(group.id ?? 0).md")
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        let composed = await reports.compose(title: "Album of \(jobs.count) documents", jobs: jobs, groupID: group.id)
        try Data(composed.markdown.utf8).write(to: path, options: .atomic)
        return (path, composed.summary)
    }

    static func albumPayload(jobs: [JobDetails], report: URL, summary: String? = nil) -> ReplyPayload {
        let first = jobs.first?.job.messageID
        var text = "<b>Album of \(jobs.count) documents</b>\n"
        if let summary { text += "\n" + Replies.summary(summary) + "\n" }
        for details in jobs {
            text += "\n" + Replies.analysis(details) + "\n"
        }
        if text.utf16.count <= Replies.messageLimit { return .message(text, replyTo: first) }
        var caption = "Report of your album (\(jobs.count) documents)"
        if let summary { caption += "\n\n" + Replies.summary(summary, limit: 700) }
        return .document(path: report.path, fileName: "album-report.md", caption: caption, replyTo: first)
    }
}

/// How long a reply keeps being offered to Telegram while it is unreachable.
public struct ReplyDelivery: Sendable {
    /// Network failures, 5xx and 429 back off along this (2 s doubling, capped) and never exhaust it.
    public var retry: RetryPolicy
    /// After this long unsent (at least Telegram's own 24 h update retention), a reply is marked undelivered.
    public var horizon: Double

    public init(maxBackoff: Double = 300, horizon: Double = 24 * 3600) {
        retry = RetryPolicy(maxAttempts: .max, baseDelay: 2, maxDelay: maxBackoff)
        self.horizon = horizon
    }
}

/// Sends queued replies: each chat's oldest first, chats independently (up to `concurrentChats` at once), paced
/// per chat and overall by the client's `SendPacer`, so one busy chat never delays another. Only a permanent
/// refusal (the user blocked the bot, the chat is gone) ends a reply as failed; outages and rate limits are
/// retried until the delivery horizon.
struct ReplySender: Service {
    static let concurrentChats = 16
    let database: AppDatabase
    let telegram: TelegramClient
    let delivery: ReplyDelivery
    /// Where a reply too long for Telegram is written as a Markdown document.
    let dataDirectory: URL
    let queued: Signal
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            if let (resent, dropped) = try? await database.recoverInterruptedReplies(), resent + dropped > 0 {
                logger.notice("replies interrupted by a stop", metadata: ["resent": "\(resent)", "dropped": "\(dropped)"])
            }
            await ChatLanes<Int64>(limit: Self.concurrentChats, wake: queued).run(due: { running in
                let chats = (try? await database.chatsWithDueReplies()) ?? []
                if !chats.isEmpty { return (chats.filter { !running.contains($0) }, .seconds(1)) }
                return ([], UpdateProcessor.wait(until: (try? await database.nextReplyDue()) ?? nil))
            }, drain: drain)
        }
    }

    /// Sends the chat's due replies in order until one must wait or none is left.
    private func drain(_ chat: Int64) async {
        while !Task.isCancelled, let record = try? await database.nextDueReply(chatID: chat), let id = record.id {
            do {
                try await database.beginSending(id: id)
                try await send(record)
                try await database.markReplySent(id: id)
            } catch is CancellationError {
                return
            } catch let error as TelegramError where error.isTransient {
                let now = Timestamp.now
                if now - record.createdAt >= delivery.horizon {
                    logger.error("reply undelivered", metadata: ["chat": "\(chat)", "error": "\(error)"])
                    try? await database.markReplyFailed(id: id, error: error.description, retryAt: nil, final: .undelivered)
                    continue
                }
                let retryAfter: Double? = if case .rateLimited(let seconds) = error { seconds } else { nil }
                let delay = delivery.retry.delay(afterAttempt: record.attempts + 1, retryAfter: retryAfter)
                logger.warning("reply not sent", metadata: ["chat": "\(chat)", "error": "\(error)", "retry_in": "\(Int(delay)) s"])
                try? await database.markReplyFailed(id: id, error: error.description, retryAt: now + delay)
                return
            } catch {
                logger.warning("reply refused", metadata: ["chat": "\(chat)", "error": "\(error)"])
                try? await database.markReplyFailed(id: id, error: "\(error)", retryAt: nil)
            }
        }
    }

    private func send(_ record: OutboxRecord) async throws {
        let payload = try JSONDecoder().decode(ReplyPayload.self, from: record.payload)
        do {
            try await sendAsHTML(payload, chat: record.chatID)
        } catch let error as TelegramError where error.isUnsendableText {
            // Our HTML or its length was refused: the same content once more, as plain text or as a document.
            logger.warning("reply refused as HTML; sending it plain", metadata: ["chat": "\(record.chatID)", "error": "\(error)"])
            try await sendPlain(payload, chat: record.chatID, id: record.id ?? 0)
        }
    }

    private func sendAsHTML(_ payload: ReplyPayload, chat: Int64) async throws {
        switch payload.kind {
        case .message:
            try await telegram.sendMessage(chatID: chat, text: payload.text, replyTo: payload.replyTo)
        case .document:
            guard let path = payload.path else { return }
            try await telegram.sendDocument(chatID: chat, path: path, fileName: payload.fileName ?? "report.md", caption: payload.text,
                                            replyTo: payload.replyTo)
        }
    }

    private func sendPlain(_ payload: ReplyPayload, chat: Int64, id: Int64) async throws {
        let text = Replies.plainText(payload.text)
        switch payload.kind {
        case .message where text.utf16.count <= 4096:
            try await telegram.sendMessage(chatID: chat, text: text, html: false, replyTo: payload.replyTo)
        case .message:
            let path = dataDirectory.appendingPathComponent("reports/reply-\(id).md")
            try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: path, options: .atomic)
            try await telegram.sendDocument(chatID: chat, path: path.path, fileName: "reply.md", caption: nil, replyTo: payload.replyTo)
        case .document:
            guard let path = payload.path else { return }
            try await telegram.sendDocument(chatID: chat, path: path, fileName: payload.fileName ?? "report.md",
                                            caption: Replies.truncated(text, limit: Replies.captionLimit), html: false, replyTo: payload.replyTo)
        }
    }
}

/// `serve --poll`: long-polls `getUpdates` and records each page durably before asking for the next.
struct PollingReceiver: Service {
    static let outage = UpdateProcessor.outage
    let database: AppDatabase
    let telegram: TelegramClient
    let arrived: Signal
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            // A webhook and getUpdates exclude each other.
            try? await telegram.deleteWebhook()
            var offset = try await database.lastUpdateID().map { $0 + 1 }
            var failures = 0
            while !Task.isCancelled {
                do {
                    let updates = try await telegram.getUpdates(offset: offset, timeout: 25)
                    failures = 0
                    guard let last = updates.last else { continue }
                    _ = try await database.recordUpdates(updates.map { ($0.updateID, $0.chatID, $0.json) })
                    offset = last.updateID + 1
                    arrived.fire()
                } catch is CancellationError {
                    return
                } catch {
                    failures += 1
                    logger.warning("getUpdates failed", metadata: ["error": "\(error)"])
                    try await Self.outage.pause(afterAttempt: failures)
                }
            }
        }
    }
}

/// Runs the pipeline's workers as a service; cancellation hands running jobs back.
struct PipelineService: Service {
    let pipeline: Pipeline
    let workers: Int

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await pipeline.run(workers: workers)
        }
    }
}

/// Wakes the sweeper when the pipeline finishes a job.
struct PipelineEvents: PipelineObserver {
    let finished: Signal

    func pipeline(_ event: PipelineEvent) async {
        switch event {
        case .jobFinished, .jobFailed: finished.fire()
        default: break
        }
    }
}
