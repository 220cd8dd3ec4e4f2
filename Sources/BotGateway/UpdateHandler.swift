import Foundation
import Logging
import Plugins
import Storage
import UseCases

/// Turns one recorded update into a call on a use case and a reply: whitelist, commands, documents. Replies
/// are queued in the outbox with a key per event, so handling an update twice (after a crash) never makes a
/// second job or a second reply.
public struct UpdateHandler: Sendable {
    public enum Outcome: Sendable, Equatable {
        case handled
        /// Telegram or the disk was unavailable: leave the update pending and try again.
        case retryLater(String)
    }

    let services: BotServices
    /// The largest file fetched from Telegram.
    let downloadLimit: Int64
    /// Where downloads wait until they are stored.
    let scratch: URL
    let logger: Logger

    public init(services: BotServices, downloadLimit: Int64, scratch: URL, logger: Logger) {
        self.services = services
        self.downloadLimit = downloadLimit
        self.scratch = scratch
        self.logger = logger
    }

    public func handle(_ record: TelegramUpdateRecord) async throws -> Outcome {
        guard let update = try? JSONDecoder().decode(TelegramUpdate.self, from: record.payload) else {
            logger.warning("unreadable update ignored", metadata: ["update": "\(record.updateID)"])
            return .handled
        }
        // Edited messages and update kinds we do not serve are acknowledged and dropped.
        guard let message = update.message, let user = message.from, user.isBot != true else { return .handled }
        let event = "update:\(record.updateID)"
        guard let role = try await services.whitelist.role(of: user.id) else {
            if try await services.whitelist.shouldAnswerStranger(user.id) {
                try await reply(message, Replies.stranger(userID: user.id), key: ReplyKey.stranger(event))
            }
            logger.info("message from a user not on the whitelist", metadata: ["user": "\(user.id)"])
            return .handled
        }
        let requester = Requester(chatID: message.chat.id, userID: user.id, isAdmin: role == .admin)
        if let text = message.text, text.hasPrefix("/") {
            try await command(text, message: message, requester: requester, event: event)
            return .handled
        }
        guard let file = message.attachment else {
            try await reply(message, Replies.nothingToRead, key: ReplyKey.hint(event))
            return .handled
        }
        return try await document(file, message: message, user: user, updateID: record.updateID, event: event)
    }

    // MARK: Documents

    private func document(_ file: TelegramAttachment, message: TelegramMessage, user: TelegramUser, updateID: Int64, event: String) async throws -> Outcome {
        if let refusal = Self.refusal(of: file, limit: downloadLimit) {
            try await reply(message, refusal, key: ReplyKey.refusal(event))
            return .handled
        }
        try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        // Unique per attempt and process: a second process or a retry never writes into this one's file.
        let download = scratch.appendingPathComponent("telegram-\(updateID)-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: download) }
        do {
            let located = try await services.files.getFile(file.fileID)
            try await services.files.download(located, to: download, maxBytes: downloadLimit)
        } catch let error as TelegramError {
            if error.isTransient { return .retryLater(error.description) }
            try await reply(message, Replies.downloadRefused(error, size: file.size, limit: downloadLimit), key: ReplyKey.refusal(event))
            return .handled
        }

        let chat = message.chat.id
        let request = JobRequest(origin: .telegram, sourceName: DocumentIntake.safeName(file.fileName), chatID: chat, userID: user.id,
                                 messageID: message.messageID, languageCode: user.languageCode, sourceKey: "tg:\(event)")
        let submission: Submission
        do {
            if let pages = services.pages,
               let collected = try await pages.collect(file: download, name: file.fileName, request: request, album: message.mediaGroupID) {
                try await acknowledge(collected, message: message, event: event)
                logger.info("page collected", metadata: ["set": "\(collected.set.key)", "pages": "\(collected.pages)", "chat": "\(chat)"])
                return .handled
            }
            submission = try await services.jobs.submit(file: download, name: file.fileName, request: request, album: message.mediaGroupID)
        } catch let refusal as DocumentIntake.Refusal {
            // Our disk, not their file: the update waits (and so does the rest of this chat) until space returns.
            if case .storeUnavailable = refusal { return .retryLater(refusal.description) }
            try await reply(message, Replies.refused(refusal.description), key: ReplyKey.refusal(event))
            return .handled
        }
        if let album = submission.albumID {
            // Album items are one conversation: one acknowledgement, one report.
            try await reply(message, Replies.acknowledgedAlbum, key: ReplyKey.acknowledgement("album:\(album)"))
        } else {
            try await reply(message, Replies.acknowledged(code: submission.job.code), key: ReplyKey.acknowledgement(event))
        }
        logger.info("document queued", metadata: ["job": "\(submission.job.code)", "chat": "\(chat)"])
        return .handled
    }

    /// An album is acknowledged once; each page sent after `/merge` is counted.
    private func acknowledge(_ collected: CollectedPage, message: TelegramMessage, event: String) async throws {
        switch collected.set.kind {
        case .album:
            try await reply(message, Replies.acknowledgedAlbum, key: ReplyKey.acknowledgement("album:\(collected.set.key)"))
        case .merge:
            try await reply(message, Replies.pageAdded(collected.pages), key: ReplyKey.acknowledgement(event))
        }
    }

    /// What is refused before fetching anything: a type we cannot read, or a file larger than we fetch.
    static func refusal(of file: TelegramAttachment, limit: Int64) -> String? {
        if let mime = file.mimeType?.lowercased(), !(mime.hasPrefix("image/") || mime == "application/pdf"),
           !file.fileName.lowercased().hasSuffix(".pdf") {
            return Replies.unsupported("a \(mime) file")
        }
        if let size = file.size, size > limit { return Replies.tooLarge(bytes: size, limit: limit) }
        return nil
    }

    func reply(_ message: TelegramMessage, _ text: String, key: String, quote: Bool = true) async throws {
        try await services.replies.enqueueReply(ReplyPayload.message(text, replyTo: quote ? message.messageID : nil).record(chatID: message.chat.id, dedupeKey: key))
    }

    func reply(_ message: TelegramMessage, _ payload: ReplyPayload, key: String) async throws {
        try await services.replies.enqueueReply(payload.record(chatID: message.chat.id, dedupeKey: key))
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
