import ArgumentParser
import BotGateway
import CurlHTTP
import Foundation
import Logging
import OCR
import Plugins
import Storage

struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Read and analyse every supported file in a folder, then write one consolidated report.",
        discussion: """
        Files are recognised by content (JPEG, PNG, TIFF, WebP, BMP, GIF, PDF); others are skipped with a reason.
        Identical files are processed once. Running it again on the same folder resumes: finished documents are
        not redone. Progress: a bar on a terminal, JSON lines otherwise (or with --json).
        Exit code 1 if any document failed.
        """
    )

    @Argument(help: "The folder to read.", completion: .directory)
    var folder: String

    @Flag(help: "Include subfolders.")
    var recursive = false

    @Option(help: "Where to write the report (default: FOLDER/botgateway-report.md).")
    var report: String?

    @Option(help: "Also write one row per document here (a .json name gives JSON, any other CSV for spreadsheets; see `export`).")
    var export: String?

    @Option(help: "The export's format: csv, excel or json (default: by --export's extension).")
    var exportFormat: ExportFormat?

    @Option(help: "Also send the report to this Telegram chat (needs TELEGRAM_BOT_TOKEN).")
    var chat: Int64?

    @Flag(help: "Only enqueue the files; a running `botgateway serve` or a later `batch` processes them.")
    var noWait = false

    @Flag(help: "Progress and results as JSON lines on standard output.")
    var json = false

    static let reportName = "botgateway-report.md"

    func run() async throws {
        try LogSetup.bootstrap()
        let configuration = try GatewayConfiguration.fromEnvironment()
        // Checked before any work, so a missing token is a usage error, not a failure at the end.
        let telegramSettings = try chat.map { _ in
            try GatewaySettings.fromEnvironment(ProcessInfo.processInfo.environment, dataDirectory: configuration.dataDirectory, requireSecret: false)
        }
        let root = URL(fileURLWithPath: folder).standardizedFileURL.resolvingSymlinksInPath()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("\(folder) is not a folder")
        }
        let reportURL = URL(fileURLWithPath: report ?? root.appendingPathComponent(Self.reportName).path).standardizedFileURL
        let (database, blobs) = try configuration.openStorage()
        let progress = BatchProgress(json: json || isatty(STDERR_FILENO) == 0)

        // 1. Take the files in: each is stored once and gets one job in this folder's group.
        let group = try await database.group(kind: .batch, key: "batch:" + root.path, title: "Batch report: \(root.lastPathComponent)")
        let exportPath = export.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let listing = Self.listFiles(root, recursive: recursive, excluding: Set([reportURL.path] + (exportPath.map { [$0] } ?? [])))
        let files = listing.files
        var skipped = listing.skipped
        let intake = DocumentIntake(blobs: blobs, maxBytes: Int64(configuration.ocr.limits.maxBytes))
        let steps = [OCRPlugin.stepName, AnalyzePlugin.stepName] + (configuration.s3 == nil ? [] : [ArchivePlugin.stepName])
        var pending: [(document: DocumentRecord, request: JobRequest)] = []
        var created = 0, existing = 0
        var firstNames: [String: String] = [:]
        func flush() async throws {
            guard !pending.isEmpty else { return }
            // The blobs reach the disk before the database says they exist.
            try blobs.syncToDisk()
            for result in try await database.enqueue(pending, steps: steps) {
                if result.created { created += 1 } else { existing += 1 }
            }
            pending.removeAll(keepingCapacity: true)
        }
        for file in files {
            let relative = String(file.path.dropFirst(root.path.count + 1))
            let document: DocumentRecord
            do {
                document = try intake.take(file: file.path, displayName: relative, sync: false)
            } catch {
                skipped.append(ReportBuilder.Skipped(name: relative, reason: error.description))
                continue
            }
            // Identical content in the same folder is one document, read once.
            if let first = firstNames[document.sha256] {
                skipped.append(ReportBuilder.Skipped(name: relative, reason: "same content as \(first)"))
                continue
            }
            firstNames[document.sha256] = relative
            pending.append((document, JobRequest(origin: .batch, sourceName: relative, groupID: group.id)))
            if pending.count >= 256 { try await flush() }
        }
        try await flush()
        progress.enqueued(files: files.count + listing.skipped.count, new: created, resumed: existing, skipped: skipped)

        if noWait {
            progress.message("enqueued; run `botgateway batch \(folder)` again or `botgateway serve` to process")
            return
        }

        // 2. Process this group's jobs until none is left but deferrable work (archiving) waiting for a retry.
        // Running the batch again is the user saying "now": waiting retries are due at once.
        try await database.expediteQueuedJobs(groupID: group.id!)
        let counts = try await database.jobCounts(groupID: group.id)
        progress.start(total: counts.values.reduce(0, +), alreadyDone: counts[.done, default: 0], alreadyFailed: counts[.failed, default: 0])
        let workers = configuration.ocr.workers
        let pool = try await OCREnginePool(configuration: configuration.ocr, scratchDirectory: configuration.dataDirectory.appendingPathComponent("tmp"),
                                           logger: Logger(label: "ocr"))
        let http = HTTPClient()
        defer { http.shutdown() }
        let (analyzer, summarizer) = configuration.makeAnalyzer(http: http)
        let pipeline = Pipeline(database: database, blobs: blobs, plugins: configuration.plugins(pool: pool, database: database, http: http, analyzer: analyzer),
                                observer: progress, logger: Logger(label: "pipeline"))
        let interrupted = await SignalHandling.runCancellable {
            await pipeline.run(workers: workers * 2, groupID: group.id, untilIdle: true)
        }
        await pool.shutdown()
        if interrupted {
            progress.finish()
            progress.message("interrupted; run the same command again to resume")
            throw WorkFailed()
        }

        // 3. The consolidated report.
        let jobs = try await database.jobDetails(groupID: group.id!)
        if summarizer != nil { progress.message("writing the executive summary") }
        let markdown = await ReportComposer(summarizer: summarizer, database: database, logger: Logger(label: "report"))
            .markdown(title: group.title, jobs: jobs, skipped: skipped, groupID: group.id)
        try Self.writeAtomically(markdown, to: reportURL)
        let archived = configuration.reportsDirectory.appendingPathComponent("batch-\(group.id!).md")
        try Self.writeAtomically(markdown, to: archived)
        try await database.markConsolidated(groupID: group.id!, reportPath: reportURL.path)
        if let export {
            let format = exportFormat ?? ExportFormat.forPath(export)
            try ExportCommand.write(try DocumentExport.render(jobs.map(ExportRow.init), as: format), to: export)
            progress.message("export written to \(export)")
        }
        if let archiver = configuration.reportArchiver(http: http) {
            do {
                let key = try await archiver.archive(archived, name: "batch-\(group.id!)-\(Int(Date().timeIntervalSince1970)).md")
                progress.message("report archived as \(key)")
            } catch {
                progress.message("the report was not archived to S3 (\(error)); it is in \(archived.path)")
            }
        }
        let failed = jobs.filter { $0.job.state == .failed }.count
        progress.finish()
        progress.report(path: reportURL.path, done: jobs.count - failed, failed: failed, skipped: skipped.count)
        if let chat, let telegramSettings {
            try await send(reportURL, to: chat, settings: telegramSettings, caption: "Batch \(root.lastPathComponent): \(jobs.count - failed) documents analysed, \(failed) failed")
            progress.message("report sent to chat \(chat)")
        }
        if failed > 0 { throw WorkFailed() }
    }

    private func send(_ report: URL, to chat: Int64, settings: GatewaySettings, caption: String) async throws {
        let http = HTTPClient()
        defer { http.shutdown() }
        let telegram = TelegramClient(token: settings.token, baseURL: settings.apiBaseURL, http: http)
        do {
            try await telegram.sendDocument(chatID: chat, path: report.path, fileName: Self.reportName, caption: Replies.escape(caption))
        } catch {
            throw WorkFailed(message: "the report is at \(report.path) but could not be sent to chat \(chat): \(error)")
        }
    }

    /// Regular files, sorted, hidden ones and the report itself left out; everything else found is listed as
    /// skipped with the reason (symbolic links are not followed, so a link loop cannot trap the walk, and a FIFO
    /// is never opened, so it cannot hang it).
    static func listFiles(_ root: URL, recursive: Bool, excluding: Set<String>) -> (files: [URL], skipped: [ReportBuilder.Skipped]) {
        var entries: [URL] = []
        if recursive {
            let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isSymbolicLinkKey], options: [.skipsHiddenFiles])
            while let url = enumerator?.nextObject() as? URL { entries.append(url) }
        } else {
            entries = (try? FileManager.default.contentsOfDirectory(at: root, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles])) ?? []
        }
        var files: [URL] = [], skipped: [ReportBuilder.Skipped] = []
        for url in entries.sorted(by: { $0.path < $1.path }) where !excluding.contains(url.standardizedFileURL.path) {
            var info = stat()
            guard lstat(url.path, &info) == 0 else {
                skipped.append(.init(name: relativeName(url, root), reason: "cannot be read: \(String(cString: strerror(errno)))"))
                continue
            }
            let reason: String?
            switch info.st_mode & S_IFMT {
            case S_IFREG: reason = nil
            case S_IFDIR: reason = recursive ? nil : "a folder (add --recursive to read folders)"
            case S_IFLNK: reason = "a symbolic link (links are not followed)"
            case S_IFIFO: reason = "a named pipe, not a file"
            case S_IFSOCK: reason = "a socket, not a file"
            default: reason = "a device, not a file"
            }
            if let reason {
                skipped.append(.init(name: relativeName(url, root), reason: reason))
            } else if info.st_mode & S_IFMT == S_IFREG {
                files.append(url)
            }
        }
        return (files, skipped)
    }

    private static func relativeName(_ url: URL, _ root: URL) -> String {
        String(url.path.dropFirst(root.path.count + 1))
    }

    static func writeAtomically(_ text: String, to url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw WorkFailed(message: "cannot write the report to \(url.path): \(error.localizedDescription)")
        }
    }
}
