import Foundation
import Logging
import Plugins
import Storage

/// A report written to disk (and to the bucket when archiving is on).
public struct WrittenReport: Sendable, Equatable {
    public enum Archive: Sendable, Equatable {
        /// Archiving is not configured.
        case off
        case archived(key: String)
        /// The report is on disk and with the user; the bucket did not take it.
        case failed(String)
    }

    public var path: URL
    /// Documents in it.
    public var documents: Int
    /// The model's executive summary, when one was written.
    public var summary: String?
    public var archive: Archive

    public init(path: URL, documents: Int, summary: String? = nil, archive: Archive = .off) {
        self.path = path
        self.documents = documents
        self.summary = summary
        self.archive = archive
    }
}

/// Reports: compose (the deterministic sections, and an LLM's executive summary when one is configured),
/// write, archive — once, for every edge.
public protocol ReportService: Sendable {
    /// The chat's recent answered documents in one report; nil when there are none.
    func chatReport(chatID: Int64, languageCode: String?) async throws -> WrittenReport?
    /// An album's consolidated report (sent when the answer is long, archived always).
    func albumReport(group: GroupRecord, jobs: [JobDetails]) async throws -> WrittenReport
    /// One job's full analysis, for an answer too long for a message.
    func jobReport(_ details: JobDetails) throws -> URL
}

/// `ReportService` writing under the data folder's `reports/` and archiving with `ReportArchiver`.
public struct StoreReportService: ReportService {
    let documents: any DocumentStore
    let composer: ReportComposer
    let steps: StepCatalog
    /// `BOT_DATA_DIR/reports`.
    let folder: URL
    let archiver: ReportArchiver?
    let logger: Logger

    public init(documents: any DocumentStore, composer: ReportComposer, steps: StepCatalog, folder: URL, archiver: ReportArchiver?,
                logger: Logger = Logger(label: "report")) {
        self.documents = documents
        self.composer = composer
        self.steps = steps
        self.folder = folder
        self.archiver = archiver
        self.logger = logger
    }

    public func chatReport(chatID: Int64, languageCode: String?) async throws -> WrittenReport? {
        // Answered is enough: a document whose archive copy still waits for the store is in the report.
        let jobs = Array(try await documents.recentJobs(chatID: chatID, limit: 50).filter(steps.isAnswered).reversed())
        guard !jobs.isEmpty else { return nil }
        let markdown = await composer.markdown(title: "Report of your recent documents", jobs: jobs, languageCode: languageCode)
        let path = folder.appendingPathComponent("chat-\(chatID)-\(Int(Date().timeIntervalSince1970)).md")
        try Self.write(markdown, to: path)
        return WrittenReport(path: path, documents: jobs.count, archive: await archive(path, as: path.lastPathComponent))
    }

    public func albumReport(group: GroupRecord, jobs: [JobDetails]) async throws -> WrittenReport {
        let composed = await composer.compose(title: "Album of \(jobs.count) documents", jobs: jobs, groupID: group.id)
        let path = folder.appendingPathComponent("album-\(group.id ?? 0).md")
        try Self.write(composed.markdown, to: path)
        return WrittenReport(path: path, documents: jobs.count, summary: composed.summary, archive: await archive(path, as: path.lastPathComponent))
    }

    public func jobReport(_ details: JobDetails) throws -> URL {
        let path = folder.appendingPathComponent("job-\(details.job.code).md")
        try Self.write(ReportBuilder().markdown(title: details.job.sourceName, jobs: [details]), to: path)
        return path
    }

    /// A batch folder's consolidated report: written where the user asked and kept under `reports/`, the group
    /// marked consolidated, archived.
    public func batchReport(group: GroupRecord, jobs: [JobDetails], skipped: [ReportBuilder.Skipped], to destination: URL) async throws -> WrittenReport {
        guard let groupID = group.id else { throw StorageError.notFound("group \(group.key)") }
        let markdown = await composer.markdown(title: group.title, jobs: jobs, skipped: skipped, groupID: groupID)
        try Self.write(markdown, to: destination)
        let kept = folder.appendingPathComponent("batch-\(groupID).md")
        try Self.write(markdown, to: kept)
        try await documents.markConsolidated(groupID: groupID, reportPath: destination.path)
        let archive = await archive(kept, as: "batch-\(groupID)-\(Int(Date().timeIntervalSince1970)).md")
        return WrittenReport(path: destination, documents: jobs.count, archive: archive)
    }

    /// Best effort: the report is already on disk and with the user.
    private func archive(_ file: URL, as name: String) async -> WrittenReport.Archive {
        guard let archiver else { return .off }
        do {
            return .archived(key: try await archiver.archive(file, name: name))
        } catch {
            logger.warning("report not archived", metadata: ["report": "\(name)", "error": "\(error)"])
            return .failed("\(error)")
        }
    }

    /// Atomically, its folder made first; a report that cannot be written says where and why.
    public static func write(_ text: String, to url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw OutputWriteError(what: "report", path: url.path, reason: error.localizedDescription)
        }
    }
}
