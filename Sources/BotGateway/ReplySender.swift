import Foundation
import Logging
import Plugins
import ServiceLifecycle
import Storage

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
    let outbox: any ReplyOutbox
    let telegram: TelegramClient
    let delivery: ReplyDelivery
    /// Where a reply too long for Telegram is written as a Markdown document.
    let dataDirectory: URL
    let queued: Nudge
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await recover(olderThan: outbox.isShared ? Self.longestSend : 0)
            await withTaskGroup(of: Void.self) { group in
                // A shared outbox can be left mid-send by a gateway that died while this one runs.
                if outbox.isShared {
                    group.addTask {
                        while (try? await Task.sleep(for: .seconds(Self.longestSend / 2))) != nil { await recover(olderThan: Self.longestSend) }
                    }
                }
                group.addTask {
                    await ChatLanes<Int64>(limit: Self.concurrentChats, wake: queued).run(due: { running in
                        let chats = (try? await outbox.chatsWithDueReplies()) ?? []
                        if !chats.isEmpty { return (chats.filter { !running.contains($0) }, .seconds(1)) }
                        return ([], UpdateProcessor.wait(until: (try? await outbox.nextReplyDue()) ?? nil))
                    }, drain: drain)
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Longer than any one send to Telegram takes (the client's timeouts and retries included).
    static let longestSend = 180.0

    private func recover(olderThan age: Double) async {
        if let (resent, dropped) = try? await outbox.recoverInterruptedReplies(olderThan: age, now: .now), resent + dropped > 0 {
            logger.notice("replies interrupted by a stop", metadata: ["resent": "\(resent)", "dropped": "\(dropped)"])
        }
    }

    /// Sends the chat's due replies in order until one must wait or none is left.
    private func drain(_ chat: Int64) async {
        while !Task.isCancelled, let record = try? await outbox.nextDueReply(chatID: chat), let id = record.id {
            do {
                // Another gateway's sender took it first: it is theirs to send.
                guard try await outbox.beginSending(id: id, now: .now) else { return }
                try await send(record)
                try await outbox.markReplySent(id: id)
            } catch is CancellationError {
                return
            } catch let error as StorageError where error.isTransient {
                // Our database, not the reply: it stays queued (or is recovered as an interrupted send) and this
                // chat is looked at again on the next pass.
                logger.warning("reply kept for later: the database did not answer", metadata: ["chat": "\(chat)", "error": "\(error)"])
                return
            } catch let error as TelegramError where error.isTransient {
                let now = Timestamp.now
                if now - record.createdAt >= delivery.horizon {
                    logger.error("reply undelivered", metadata: ["chat": "\(chat)", "error": "\(error)"])
                    try? await outbox.markReplyFailed(id: id, error: error.description, retryAt: nil, final: .undelivered)
                    continue
                }
                let retryAfter: Double? = if case .rateLimited(let seconds) = error { seconds } else { nil }
                let delay = delivery.retry.delay(afterAttempt: record.attempts + 1, retryAfter: retryAfter)
                logger.warning("reply not sent", metadata: ["chat": "\(chat)", "error": "\(error)", "retry_in": "\(Int(delay)) s"])
                try? await outbox.markReplyFailed(id: id, error: error.description, retryAt: now + delay)
                return
            } catch {
                logger.warning("reply refused", metadata: ["chat": "\(chat)", "error": "\(error)"])
                try? await outbox.markReplyFailed(id: id, error: "\(error)", retryAt: nil)
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
