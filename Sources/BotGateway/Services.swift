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

/// Handles recorded updates in `update_id` order, one at a time (a chat's messages keep their order).
struct UpdateProcessor: Service {
    /// While Telegram is unreachable: 0.5 s doubling up to 30 s between tries.
    static let outage = RetryPolicy(maxAttempts: .max, baseDelay: 0.5, maxDelay: 30)
    let database: AppDatabase
    let handler: UpdateHandler
    let arrived: Signal
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                let pending = (try? await database.pendingUpdates()) ?? []
                if pending.isEmpty {
                    await arrived.wait(timeout: .milliseconds(500))
                    continue
                }
                batch: for record in pending {
                    do {
                        switch try await handler.handle(record) {
                        case .handled:
                            try await database.finishUpdate(id: record.updateID)
                            failures = 0
                        case .retryLater(let reason):
                            // Telegram or the disk is down: keep the update and everything after it for later.
                            failures += 1
                            logger.warning("update will be retried", metadata: ["update": "\(record.updateID)", "reason": "\(reason)"])
                            try await Self.outage.pause(afterAttempt: failures)
                            break batch
                        }
                    } catch is CancellationError {
                        return
                    } catch {
                        logger.error("update failed", metadata: ["update": "\(record.updateID)", "error": "\(error)"])
                        try? await database.finishUpdate(id: record.updateID, error: "\(error)")
                    }
                }
            }
        }
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
        try await cancelWhenGracefulShutdown {
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
        if text.count <= Replies.messageLimit {
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
        if text.count <= Replies.messageLimit { return .message(text, replyTo: first) }
        var caption = "Report of your album (\(jobs.count) documents)"
        if let summary { caption += "\n\n" + Replies.summary(summary, limit: 800) }
        return .document(path: report.path, fileName: "album-report.md", caption: caption, replyTo: first)
    }
}

/// Sends queued replies, oldest first, paced per chat. A reply Telegram refuses for good (the user blocked
/// the bot, the chat is gone) is marked failed; rate limits and outages are retried later.
struct ReplySender: Service {
    let database: AppDatabase
    let telegram: TelegramClient
    let queued: Signal
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            if let (resent, dropped) = try? await database.recoverInterruptedReplies(), resent + dropped > 0 {
                logger.notice("replies interrupted by a stop", metadata: ["resent": "\(resent)", "dropped": "\(dropped)"])
            }
            while !Task.isCancelled {
                let due = (try? await database.dueReplies()) ?? []
                for record in due {
                    guard let id = record.id else { continue }
                    do {
                        try await database.beginSending(id: id)
                        try await send(record)
                        try await database.markReplySent(id: id)
                    } catch is CancellationError {
                        return
                    } catch let error as TelegramError {
                        let retryAt: Timestamp? = switch error {
                        case .rateLimited(let seconds): .now + seconds
                        default: error.isTransient && record.attempts < 20 ? .now + min(300, 2 * pow(2, Double(record.attempts))) : nil
                        }
                        logger.warning("reply not sent", metadata: ["chat": "\(record.chatID)", "error": "\(error)", "retry": "\(retryAt != nil)"])
                        try? await database.markReplyFailed(id: id, error: error.description, retryAt: retryAt)
                    } catch {
                        try? await database.markReplyFailed(id: id, error: "\(error)", retryAt: nil)
                    }
                }
                if due.isEmpty {
                    let next = (try? await database.nextReplyDue()) ?? nil
                    let wait = next.map { max(0.01, min(1, $0 - .now)) } ?? 1
                    await queued.wait(timeout: .milliseconds(Int(wait * 1000)))
                }
            }
        }
    }

    private func send(_ record: OutboxRecord) async throws {
        let payload = try JSONDecoder().decode(ReplyPayload.self, from: record.payload)
        switch payload.kind {
        case .message:
            try await telegram.sendMessage(chatID: record.chatID, text: payload.text, replyTo: payload.replyTo)
        case .document:
            guard let path = payload.path else { return }
            try await telegram.sendDocument(chatID: record.chatID, path: path, fileName: payload.fileName ?? "report.md",
                                            caption: payload.text, replyTo: payload.replyTo)
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
                    _ = try await database.recordUpdates(updates.map { ($0.updateID, $0.json) })
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
