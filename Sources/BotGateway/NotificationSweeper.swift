import Foundation
import Logging
import Plugins
import ServiceLifecycle
import Storage
import UseCases

/// Turns finished Telegram jobs (and completed albums) into replies. Reading the state from the database
/// rather than from events means a reply is queued even when the process died right after the job ended.
struct NotificationSweeper: Service {
    let outbox: any ReplyOutbox
    let reports: any ReportService
    /// The step whose output answers (the step catalogue's).
    let answerStep: String
    let finished: Nudge
    let queued: Nudge
    /// An album is complete once no item arrived for this long.
    let albumQuiet: Double
    /// Where the chats' choices are (`/pdf on`).
    let chats: any ChatSettingsStore
    /// Where the OCR step keeps searchable PDFs (nil: none are attached).
    let blobs: BlobStore?
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    if try await sweep() { queued.fire() }
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("could not queue replies", metadata: ["error": "\(error)"])
                }
                await finished.wait(timeout: .milliseconds(500))
            }
        }
    }

    /// Queues the answers that are ready; true when any was.
    private func sweep() async throws -> Bool {
        var sent = false
        for details in try await outbox.unnotifiedJobs(answerStep: answerStep) {
            guard let chat = details.job.chatID, let jobID = details.job.id else { continue }
            let result = payload(for: details).record(chatID: chat, dedupeKey: ReplyKey.result(jobID: jobID))
            try await outbox.notify(jobID: jobID, replies: [result] + (await searchablePDFs(of: [details], chatID: chat)), now: .now)
            sent = true
        }
        for (group, jobs) in try await outbox.completedAlbums(quiet: albumQuiet, answerStep: answerStep) {
            guard let chat = group.chatID, let groupID = group.id else { continue }
            // Written (and archived) whether or not the answer is short enough for a message.
            let report = try await reports.albumReport(group: group, jobs: jobs)
            let payload = Self.albumPayload(jobs: jobs, report: report.path, summary: report.summary)
            let result = payload.record(chatID: chat, dedupeKey: ReplyKey.result(albumID: groupID))
            try await outbox.notify(groupID: groupID, replies: [result] + (await searchablePDFs(of: jobs, chatID: chat)), now: .now)
            sent = true
        }
        return sent
    }

    /// The jobs' searchable PDFs as files to send after the result, when the chat asked for them (`/pdf on`) and
    /// the OCR step kept one (none for a PDF with its own text). Best effort: a PDF that cannot be had now is
    /// left out, the result goes anyway (`/pdf CODE` still makes one).
    func searchablePDFs(of jobs: [JobDetails], chatID: Int64) async -> [OutboxRecord] {
        guard let blobs else { return [] }
        do {
            guard try await chats.chatSettings(chatID: chatID).attachSearchablePDF else { return [] }
        } catch {
            logger.warning("could not read the chat's settings", metadata: ["chat": "\(chatID)", "error": "\(error)"])
            return []
        }
        var records: [OutboxRecord] = []
        for details in jobs {
            guard let jobID = details.job.id, let sha256 = SearchablePDFs.storedSHA256(of: details.document) else { continue }
            do {
                let path = try await blobs.checkout(sha256: sha256)
                let payload = ReplyPayload.document(path: path, fileName: SearchablePDFs.fileName(for: details.job.sourceName),
                                                    caption: Replies.searchablePDFCaption(code: details.job.code), replyTo: details.job.messageID)
                records.append(payload.record(chatID: chatID, dedupeKey: ReplyKey.searchablePDF(jobID: jobID)))
            } catch {
                logger.warning("searchable PDF not attached", metadata: ["job": "\(details.job.code)", "error": "\(error)"])
            }
        }
        return records
    }

    func payload(for details: JobDetails) -> ReplyPayload {
        let text = Replies.analysis(details)
        // Too long for one message: the full analysis as a Markdown report.
        guard text.utf16.count > Replies.messageLimit, let path = try? reports.jobReport(details) else {
            return .message(Replies.split(text).first ?? text, replyTo: details.job.messageID)
        }
        return .document(path: path.path, fileName: "\(details.job.code).md", caption: "Analysis of job <code>\(details.job.code)</code>",
                         replyTo: details.job.messageID)
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
