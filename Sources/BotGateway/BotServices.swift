import Foundation
import Plugins
import Storage
import UseCases

/// The use cases the bot's handler calls: it parses, calls one of these, and replies. Tests hand it fakes.
public struct BotServices: Sendable {
    public var jobs: any JobService
    public var reports: any ReportService
    public var whitelist: any WhitelistService
    public var search: any SearchService
    /// Where the handler's replies are queued.
    public var replies: any ReplyQueue
    /// Where documents are fetched from.
    public var files: any TelegramFiles
    /// Makes `/dashboard`'s sign-in links (nil: the dashboard is not served here).
    public var dashboard: (any DashboardLinks)?
    /// Documents as searchable PDFs, for `/pdf` (nil: not offered here).
    public var pdfs: SearchablePDFs?
    /// Answers `/ask` from the asker's own documents (nil: not offered here).
    public var ask: (any AskService)?
    /// What each chat chose (`/pdf on`).
    public var chats: (any ChatSettingsStore)?
    /// Albums and `/merge` pages collected into page sets (nil: every photo is a document of its own).
    public var pages: (any PageSetService)?

    public init(jobs: any JobService, reports: any ReportService, whitelist: any WhitelistService, search: any SearchService,
                replies: any ReplyQueue, files: any TelegramFiles, dashboard: (any DashboardLinks)? = nil, pdfs: SearchablePDFs? = nil,
                chats: (any ChatSettingsStore)? = nil, ask: (any AskService)? = nil, pages: (any PageSetService)? = nil) {
        self.jobs = jobs
        self.reports = reports
        self.whitelist = whitelist
        self.search = search
        self.replies = replies
        self.files = files
        self.dashboard = dashboard
        self.pdfs = pdfs
        self.ask = ask
        self.chats = chats
        self.pages = pages
    }
}

/// What the handler needs of the Bot API to fetch a document.
public protocol TelegramFiles: Sendable {
    func getFile(_ fileID: String) async throws -> TelegramFile
    func download(_ file: TelegramFile, to destination: String, maxBytes: Int64) async throws
}

extension TelegramClient: TelegramFiles {}
