import Foundation
import Plugins
import Storage
import UseCases

/// The bot's commands: each case parses its argument, calls one use case and answers with text from `Replies`.
extension UpdateHandler {
    static let adminOnly: Set<String> = ["/allow", "/deny", "/users", "/jobs", "/retry", "/stats", "/dashboard"]

    /// "/status@MyBot CODE" → ("/status", "CODE"); control characters (NUL among them) become spaces.
    static func parse(_ text: String) -> (name: String, argument: String) {
        let cleaned = String(text.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) && $0 != "\n" ? " " : Character($0) })
        let words = cleaned.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        let name = words.first?.split(separator: "@").first.map(String.init)?.lowercased() ?? ""
        return (name, words.dropFirst().joined(separator: " "))
    }

    func command(_ text: String, message: TelegramMessage, requester: Requester, event: String) async throws {
        let (name, argument) = Self.parse(text)
        func say(_ answer: String) async throws {
            for (index, part) in Replies.split(answer).enumerated() {
                try await reply(message, part, key: ReplyKey.command(event, part: index), quote: index == 0)
            }
        }
        if Self.adminOnly.contains(name), !requester.isAdmin { return try await say(Replies.notAllowed) }
        guard argument.utf16.count <= Replies.argumentLimit else { return try await say(Replies.argumentTooLong(command: name)) }
        switch name {
        case "/start", "/help": try await say(Replies.help + (requester.isAdmin ? Replies.adminHelp : ""))
        case "/status": try await say(status(argument, requester))
        case "/report": try await report(message, requester: requester, event: event)
        case "/search": try await say(search(argument, requester))
        case "/forget": try await say(forget(argument, requester))
        case "/pdf": try await searchablePDF(argument, message, requester: requester, event: event)
        case "/ask": try await say(ask(argument, requester, languageCode: message.from?.languageCode))
        case "/merge": try await say(startMerge(message, requester))
        case "/done": try await say(finishMerge(requester))
        case "/albums": try await say(albums(argument, requester))
        case "/allow", "/deny": try await say(changeWhitelist(name, argument, requester))
        case "/users": try await say(Replies.members(try await services.whitelist.members()))
        case "/jobs": try await say(Replies.jobList(try await services.jobs.recent(limit: 15)))
        case "/retry": try await say(retry(argument))
        case "/stats": try await say(Replies.stats(try await services.jobs.stats()))
        case "/dashboard": try await say(dashboardLink(requester))
        default: try await say(Replies.unknownCommand(name))
        }
    }

    private func startMerge(_ message: TelegramMessage, _ requester: Requester) async throws -> String {
        guard let pages = services.pages else { return Replies.pagesOff }
        switch try await pages.startMerge(requester, languageCode: message.from?.languageCode) {
        case .started: return Replies.mergeStarted
        case .alreadyOpen(let count): return Replies.mergeOpen(count)
        }
    }

    private func finishMerge(_ requester: Requester) async throws -> String {
        guard let pages = services.pages else { return Replies.pagesOff }
        guard let count = try await pages.finishMerge(requester) else { return Replies.nothingToMerge }
        return Replies.mergeDone(count)
    }

    private func albums(_ argument: String, _ requester: Requester) async throws -> String {
        guard let pages = services.pages else { return Replies.pagesOff }
        guard !argument.isEmpty else { return Replies.albumMode(try await pages.albumMode(chatID: requester.chatID), changed: false) }
        guard let mode = AlbumMode(rawValue: argument.lowercased()) else { return Replies.usage("/albums merge, /albums separate or /albums auto") }
        try await pages.setAlbumMode(mode, for: requester)
        return Replies.albumMode(mode, changed: true)
    }

    private func status(_ code: String, _ requester: Requester) async throws -> String {
        guard !code.isEmpty else { return Replies.usage("/status CODE") }
        guard let details = try await services.jobs.details(code: code, for: requester) else { return Replies.noJob(code) }
        return Replies.status(details)
    }

    private func search(_ words: String, _ requester: Requester) async throws -> String {
        guard !words.isEmpty else { return Replies.usage("/search WORDS") }
        return Replies.searchHits(try await services.search.search(words, for: requester, limit: 10), for: words)
    }

    private func ask(_ question: String, _ requester: Requester, languageCode: String?) async throws -> String {
        guard !question.isEmpty else { return Replies.usage("/ask QUESTION, e.g. /ask how much did I spend at Corner Cafe in March?") }
        guard let ask = services.ask else { return Replies.ask(.off) }
        return Replies.ask(try await ask.ask(question, for: requester, languageCode: languageCode))
    }

    private func forget(_ code: String, _ requester: Requester) async throws -> String {
        guard !code.isEmpty else { return Replies.usage("/forget CODE") }
        return Replies.forgot(try await services.jobs.forget(code: code, for: requester), code: code)
    }

    private func changeWhitelist(_ name: String, _ argument: String, _ requester: Requester) async throws -> String {
        guard let id = Int64(argument), id > 0 else { return Replies.usage("\(name) USER_ID (a number)") }
        if name == "/allow" { return Replies.allowed(id, try await services.whitelist.allow(id, by: requester.userID)) }
        return Replies.denied(id, try await services.whitelist.deny(id, by: requester.userID))
    }

    private func dashboardLink(_ requester: Requester) async throws -> String {
        guard let dashboard = services.dashboard else { return Replies.noDashboard }
        return Replies.dashboardLink(try await dashboard.signInLink(for: requester.userID))
    }

    private func retry(_ code: String) async throws -> String {
        do {
            return Replies.retried(try await services.jobs.retry(code: code))
        } catch let error as StorageError {
            return Replies.escape(error.description)
        }
    }

    /// The document of job CODE as a searchable PDF, sent as a file (made now when none was kept); `/pdf on|off`:
    /// every result in this chat comes with its PDF, or not.
    private func searchablePDF(_ code: String, _ message: TelegramMessage, requester: Requester, event: String) async throws {
        let key = ReplyKey.command(event, part: 0)
        guard !code.isEmpty else { return try await reply(message, Replies.usage("/pdf CODE, or /pdf on|off"), key: key) }
        guard let pdfs = services.pdfs else { return try await reply(message, Replies.noSearchablePDFs, key: key) }
        if ["on", "off"].contains(code.lowercased()), let chats = services.chats {
            let attach = code.lowercased() == "on"
            try await chats.setAttachSearchablePDF(attach, chatID: requester.chatID, by: requester.userID)
            return try await reply(message, Replies.searchablePDFsAttached(attach), key: key)
        }
        guard let details = try await services.jobs.details(code: code, for: requester) else { return try await reply(message, Replies.noJob(code), key: key) }
        let answer: SearchablePDFs.Answer
        do {
            answer = try await pdfs.file(for: details.document)
        } catch let error as PluginError {
            return try await reply(message, Replies.searchablePDFFailed(code: details.job.code, error.message), key: key)
        }
        switch answer {
        case .file(let path):
            try await reply(message, .document(path: path, fileName: SearchablePDFs.fileName(for: details.job.sourceName),
                                               caption: Replies.searchablePDFCaption(code: details.job.code), replyTo: message.messageID), key: key)
        case .hasOwnText: try await reply(message, Replies.searchablePDFNotNeeded(code: details.job.code), key: key)
        case .notReadYet: try await reply(message, Replies.searchablePDFNotReady(code: details.job.code), key: key)
        }
    }

    /// One report over the chat's recent documents, sent as a Markdown file.
    private func report(_ message: TelegramMessage, requester: Requester, event: String) async throws {
        let key = ReplyKey.command(event, part: 0)
        guard let report = try await services.reports.chatReport(chatID: requester.chatID, languageCode: message.from?.languageCode) else {
            return try await reply(message, Replies.nothingToReport, key: key)
        }
        try await reply(message, .document(path: report.path.path, fileName: "report.md", caption: Replies.reportCaption(report.documents),
                                           replyTo: message.messageID), key: key)
    }
}
