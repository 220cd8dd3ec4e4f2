import Foundation
import Logging
import OCR
import Plugins
import Storage

/// Turns one recorded update into calls on the store and the pipeline: whitelist, commands, documents.
/// Replies are queued in the outbox with a key per event, so handling an update twice (after a crash)
/// never makes a second job or a second reply.
public struct UpdateHandler: Sendable {
    public enum Outcome: Sendable, Equatable {
        case handled
        /// Telegram or the disk was unavailable: leave the update pending and try again.
        case retryLater(String)
    }

    let settings: GatewaySettings
    let database: AppDatabase
    let intake: DocumentIntake
    let telegram: TelegramClient
    let steps: [String]
    let reports: ReportComposer
    let reportArchiver: ReportArchiver?
    let logger: Logger

    public init(settings: GatewaySettings, database: AppDatabase, intake: DocumentIntake, telegram: TelegramClient, steps: [String],
                reports: ReportComposer? = nil, reportArchiver: ReportArchiver? = nil, logger: Logger) {
        self.settings = settings
        self.reports = reports ?? ReportComposer(summarizer: nil, database: database)
        self.database = database
        self.intake = intake
        self.telegram = telegram
        self.steps = steps
        self.reportArchiver = reportArchiver
        self.logger = logger
    }

    public func handle(_ record: TelegramUpdateRecord) async throws -> Outcome {
        guard let update = try? JSONDecoder().decode(TelegramUpdate.self, from: record.payload) else {
            logger.warning("unreadable update ignored", metadata: ["update": "\(record.updateID)"])
            return .handled
        }
        // Edited messages and update kinds we do not serve are acknowledged and dropped.
        guard let message = update.message, let user = message.from, user.isBot != true else { return .handled }
        let chat = message.chat.id
        let key = "update:\(record.updateID)"

        let role = try await role(of: user.id)
        guard let role else {
            if try await database.mayAnswerStranger(userID: user.id, interval: 3600) {
                try await reply(chat, .message(Replies.stranger(userID: user.id), replyTo: message.messageID), key: "stranger:\(key)")
            }
            logger.info("message from a user not on the whitelist", metadata: ["user": "\(user.id)"])
            return .handled
        }

        if let text = message.text, text.hasPrefix("/") {
            try await command(text, message: message, user: user, isAdmin: role == .admin, key: key)
            return .handled
        }
        guard message.attachment != nil else {
            try await reply(chat, .message(Replies.nothingToRead, replyTo: message.messageID), key: "hint:\(key)")
            return .handled
        }
        return try await document(message, user: user, updateID: record.updateID, key: key)
    }

    private func role(of userID: Int64) async throws -> UserRole? {
        if settings.adminIDs.contains(userID) { return .admin }
        return try await database.user(id: userID)?.role
    }

    // MARK: Documents

    private func document(_ message: TelegramMessage, user: TelegramUser, updateID: Int64, key: String) async throws -> Outcome {
        guard let file = message.attachment else { return .handled }
        let chat = message.chat.id
        if let mime = file.mimeType?.lowercased(), !(mime.hasPrefix("image/") || mime == "application/pdf"),
           !file.fileName.lowercased().hasSuffix(".pdf") {
            try await reply(chat, .message(Replies.unsupported("a \(mime) file"), replyTo: message.messageID), key: "refused:\(key)")
            return .handled
        }
        if let size = file.size, size > settings.downloadLimit {
            try await reply(chat, .message(Replies.tooLarge(bytes: size, limit: settings.downloadLimit), replyTo: message.messageID), key: "refused:\(key)")
            return .handled
        }

        let scratch = settings.dataDirectory.appendingPathComponent("tmp")
        try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        // Unique per attempt and process: a second process or a retry never writes into this one's file.
        let download = scratch.appendingPathComponent("telegram-\(updateID)-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: download) }
        do {
            let located = try await telegram.getFile(file.fileID)
            try await telegram.download(located, to: download, maxBytes: settings.downloadLimit)
        } catch let error as TelegramError {
            if error.isTransient { return .retryLater(error.description) }
            if case .transport(.responseTooLarge) = error {
                try await reply(chat, .message(Replies.tooLarge(bytes: settings.downloadLimit + 1, limit: settings.downloadLimit), replyTo: message.messageID),
                                key: "refused:\(key)")
                return .handled
            }
            if error.isFileTooBig {
                try await reply(chat, .message(Replies.tooLarge(bytes: file.size ?? settings.downloadLimit + 1, limit: settings.downloadLimit),
                                               replyTo: message.messageID), key: "refused:\(key)")
                return .handled
            }
            try await reply(chat, .message(Replies.refused("Telegram would not hand it over (\(error))"), replyTo: message.messageID), key: "refused:\(key)")
            return .handled
        }

        let document: DocumentRecord
        do {
            let intake = self.intake, name = file.fileName
            document = try await BlockingWork.run { () throws(DocumentIntake.Refusal) -> DocumentRecord in
                try intake.take(file: download, displayName: name)
            }
        } catch let refusal as DocumentIntake.Refusal {
            // Our disk, not their file: the update waits (and so does the rest of this chat) until space returns.
            if case .storeUnavailable = refusal { return .retryLater(refusal.description) }
            try await reply(chat, .message(Replies.refused(refusal.description), replyTo: message.messageID), key: "refused:\(key)")
            return .handled
        }
        _ = try await database.saveDocument(document)

        var groupID: Int64?
        if let album = message.mediaGroupID {
            let group = try await database.group(kind: .album, key: "album:\(chat):\(album)", title: "Album", chatID: chat, userID: user.id)
            groupID = group.id
        }
        let request = JobRequest(origin: .telegram, sourceName: DocumentIntake.safeName(file.fileName), groupID: groupID, chatID: chat, userID: user.id,
                                 messageID: message.messageID, languageCode: user.languageCode, sourceKey: "tg:\(key)")
        let (job, _) = try await database.enqueue(documentSHA256: document.sha256, request: request, steps: steps)
        if let groupID {
            // Album items are one conversation: one acknowledgement, one report.
            try await database.touchGroup(id: groupID)
            try await reply(chat, .message(Replies.acknowledgedAlbum, replyTo: message.messageID), key: "ack:album:\(groupID)")
        } else {
            try await reply(chat, .message(Replies.acknowledged(code: job.code), replyTo: message.messageID), key: "ack:\(key)")
        }
        logger.info("document queued", metadata: ["job": "\(job.code)", "chat": "\(chat)"])
        return .handled
    }

    // MARK: Commands

    private func command(_ text: String, message: TelegramMessage, user: TelegramUser, isAdmin: Bool, key: String) async throws {
        let chat = message.chat.id
        // Control characters (NUL among them) mean nothing in a command and break what they reach.
        let cleaned = String(text.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) && $0 != "\n" ? " " : Character($0) })
        let words = cleaned.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        // "/status@MyBot CODE" in groups.
        let name = words.first?.split(separator: "@").first.map(String.init)?.lowercased() ?? ""
        let argument = words.dropFirst().joined(separator: " ")
        func say(_ text: String) async throws {
            for (index, part) in Replies.split(text).enumerated() {
                try await reply(chat, .message(part, replyTo: index == 0 ? message.messageID : nil), key: "command:\(key):\(index)")
            }
        }
        let adminOnly: Set<String> = ["/allow", "/deny", "/users", "/jobs", "/retry", "/stats"]
        if adminOnly.contains(name), !isAdmin {
            try await say(Replies.notAllowed)
            return
        }
        guard argument.utf16.count <= Replies.argumentLimit else {
            return try await say(Replies.argumentTooLong(command: name))
        }
        switch name {
        case "/start", "/help":
            try await say(Replies.help + (isAdmin ? Replies.adminHelp : ""))
        case "/status":
            guard !argument.isEmpty else { return try await say("Usage: /status CODE") }
            guard let details = try await database.jobDetails(code: argument), isAdmin || details.job.chatID == chat else {
                return try await say("No job \(Replies.name(argument.uppercased())) here.")
            }
            try await say(Replies.status(details))
        case "/report":
            try await report(chat: chat, message: message, key: key)
        case "/search":
            guard !argument.isEmpty else { return try await say("Usage: /search WORDS") }
            // Each hit is named as this chat uploaded it (the same bytes may have come from someone else first).
            let hits = try await database.searchDocuments(argument, chatID: isAdmin ? nil : chat, limit: 10)
            guard !hits.isEmpty else { return try await say("Nothing found for \(Replies.escape(argument)).") }
            try await say(hits.map { "• <b>\(Replies.name($0.name))</b> (<code>\($0.jobCode)</code>): \(Replies.escape($0.snippet))" }.joined(separator: "\n"))
        case "/allow", "/deny":
            guard let id = Int64(argument), id > 0 else { return try await say("Usage: \(name) USER_ID (a number)") }
            let current = try await role(of: id)
            if name == "/allow" {
                // Allowing someone who is already an admin must not quietly demote them.
                guard current != .admin else { return try await say("\(id) is an admin already.") }
                try await database.allow(userID: id, role: .user, addedBy: user.id)
                try await say("\(id) may use the bot now.")
            } else if id == user.id {
                try await say("You can't remove yourself; another admin can.")
            } else if settings.adminIDs.contains(id) {
                try await say("\(id) is an admin from BOT_ADMIN_IDS; remove them there.")
            } else {
                let removed = try await database.deny(userID: id)
                try await say(removed ? "\(id) removed." : "\(id) was not on the list.")
            }
        case "/users":
            let users = try await database.users()
            let admins = settings.adminIDs.sorted().map { "\($0) (admin, from BOT_ADMIN_IDS)" }
            try await say((admins + users.map { "\($0.id) (\($0.role.rawValue))" }).joined(separator: "\n").nonEmpty ?? "Nobody yet.")
        case "/jobs":
            let jobs = try await database.jobs(limit: 15)
            try await say(jobs.map { "<code>\($0.code)</code> \($0.state.rawValue) \(Replies.name($0.sourceName))" }.joined(separator: "\n").nonEmpty ?? "No jobs yet.")
        case "/retry":
            do {
                let job = try await database.retryJob(code: argument)
                try await say("Job <code>\(job.code)</code> queued again.")
            } catch let error as StorageError {
                try await say(Replies.escape(error.description))
            }
        case "/stats":
            let stats = try await database.stats()
            let jobs = JobState.allCases.map { "\($0.rawValue) \(stats.jobs[$0, default: 0])" }.joined(separator: ", ")
            try await say(String(format: "Jobs: %@\nDocuments: %d\nUsers: %d\nLLM: %d input + %d output tokens, $%.4f\nReplies waiting: %d",
                                 jobs, stats.documents, stats.users, stats.inputTokens, stats.outputTokens, stats.costUSD, stats.pendingReplies))
        default:
            try await say("I don't know \(Replies.escape(name)). /help lists what I can do.")
        }
    }

    /// One report over the chat's recent documents, sent as a Markdown file.
    private func report(chat: Int64, message: TelegramMessage, key: String) async throws {
        // Analysed is enough: a document whose archive copy still waits for the store is in the report.
        let jobs = try await database.recentJobs(chatID: chat, limit: 50)
            .filter { $0.job.state.isTerminal || $0.output(of: AnalyzePlugin.stepName) != nil }.reversed()
        guard !jobs.isEmpty else {
            try await reply(chat, .message("No finished documents here yet.", replyTo: message.messageID), key: "command:\(key):0")
            return
        }
        let markdown = await reports.markdown(title: "Report of your recent documents", jobs: Array(jobs), languageCode: message.from?.languageCode)
        let folder = settings.dataDirectory.appendingPathComponent("reports")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("chat-\(chat)-\(Int(Date().timeIntervalSince1970)).md")
        try Data(markdown.utf8).write(to: path, options: .atomic)
        await archive(path)
        try await reply(chat, .document(path: path.path, fileName: "report.md", caption: "Report of \(jobs.count) documents", replyTo: message.messageID),
                        key: "command:\(key):0")
    }

    private func archive(_ report: URL) async {
        guard let reportArchiver else { return }
        do {
            try await reportArchiver.archive(report, name: report.lastPathComponent)
        } catch {
            logger.warning("report not archived", metadata: ["report": "\(report.lastPathComponent)", "error": "\(error)"])
        }
    }

    private func reply(_ chat: Int64, _ payload: ReplyPayload, key: String) async throws {
        try await database.enqueueReply(payload.record(chatID: chat, dedupeKey: key))
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
