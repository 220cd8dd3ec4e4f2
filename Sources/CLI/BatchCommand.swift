import ArgumentParser
import BotGateway
import CurlHTTP
import Foundation
import Logging
import OCR
import Plugins
import Storage
import UseCases

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

    @Flag(help: "Also write each document as a searchable PDF (its pages with an invisible text layer) next to it, as NAME-searchable.pdf.")
    var pdf = false

    @Option(help: ArgumentHelp("With --pdf: write the searchable PDFs into this folder instead (subfolders kept).", valueName: "folder"))
    var pdfFolder: String?

    @Option(help: ArgumentHelp("""
        Images whose names match this regular expression with the same first group are the pages of one document, \
        in the order of the second group (a number): '(.+)-(\\d+)\\.jpg' makes invoice-1.jpg and invoice-2.jpg one \
        two-page document, invoice.pdf.
        """, valueName: "regex"))
    var mergePattern: String?

    @Flag(help: "Only enqueue the files; a running `botgateway serve` or a later `batch` processes them.")
    var noWait = false

    @Flag(help: "Progress and results as JSON lines on standard output.")
    var json = false

    static let reportName = "botgateway-report.md"

    /// `--merge-pattern` compiled; it must name the document and the page.
    static func mergeExpression(_ pattern: String?) throws -> NSRegularExpression? {
        guard let pattern else { return nil }
        guard let expression = try? NSRegularExpression(pattern: pattern), expression.numberOfCaptureGroups >= 2 else {
            throw ValidationError("--merge-pattern needs a regular expression with two groups, the document's name and the page number, e.g. '(.+)-(\\d+)\\.jpg'")
        }
        return expression
    }

    func validate() throws {
        _ = try Self.mergeExpression(mergePattern)
        if pdfFolder != nil && !pdf { throw ValidationError("--pdf-folder goes with --pdf") }
    }

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
        let exportPath = export.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let progress = BatchProgress(json: json || isatty(STDERR_FILENO) == 0)
        let http = HTTPClient()
        defer { http.shutdown() }
        let engines = configuration.ocrEngines()
        let (batch, summarizer) = try await configuration.batchRun(http: http, engines: engines)

        // 1. Take the files in: each is stored once and gets one job in this folder's group.
        let pdfFolderURL = pdfFolder.map { URL(fileURLWithPath: $0).standardizedFileURL }
        let outputs = [reportURL.path] + (exportPath.map { [$0] } ?? []) + (pdfFolderURL.map { [$0.path] } ?? [])
        let enqueued = try await batch.enqueue(folder: root, recursive: recursive, excluding: Set(outputs),
                                               mergePattern: try Self.mergeExpression(mergePattern))
        progress.enqueued(files: enqueued.entries, new: enqueued.created, resumed: enqueued.resumed, skipped: enqueued.skipped)
        if noWait {
            progress.message("enqueued; run `botgateway batch \(folder)` again or `botgateway serve` to process")
            return
        }

        // 2. Process this group's jobs until none is left but deferrable work (archiving) waiting for a retry.
        let counts = try await batch.prepare(enqueued.group)
        progress.start(total: counts.values.reduce(0, +), alreadyDone: counts[.done, default: 0], alreadyFailed: counts[.failed, default: 0])
        _ = try await engines.pool()
        let interrupted = await SignalHandling.runCancellable {
            await batch.process(enqueued.group, workers: configuration.ocr.workers * 2, observer: progress)
        }
        if pdf && !interrupted {
            // Before the engines stop: a document read before searchable PDFs were kept is read once more for its PDF.
            let (written, notes) = try await batch.writeSearchablePDFs(enqueued.group, root: root, folder: pdfFolderURL,
                                                                       engines: { try await engines.pool() })
            for note in notes { progress.message(note) }
            progress.message("\(written) searchable PDF\(written == 1 ? "" : "s") written \(pdfFolder.map { "to \($0)" } ?? "next to the originals")")
        }
        await engines.shutdown()
        if interrupted {
            progress.finish()
            progress.message("interrupted; run the same command again to resume")
            throw WorkFailed()
        }

        // 3. The consolidated report (and the export).
        if summarizer != nil { progress.message("writing the executive summary") }
        try await consolidate(batch, enqueued, report: reportURL, progress: progress, configuration: configuration, root: root,
                              telegramSettings: telegramSettings)
    }

    private func consolidate(_ batch: BatchRun, _ enqueued: BatchRun.Enqueued, report reportURL: URL, progress: BatchProgress,
                             configuration: GatewayConfiguration, root: URL, telegramSettings: GatewaySettings?) async throws {
        let finished: BatchRun.Finished
        do {
            finished = try await batch.finish(enqueued.group, skipped: enqueued.skipped, report: reportURL,
                                              export: export.map { ($0, exportFormat ?? ExportFormat.forPath($0)) })
        } catch let error as OutputWriteError {
            throw WorkFailed(message: error.description)
        }
        if let export { progress.message("export written to \(export)") }
        switch finished.report.archive {
        case .off: break
        case .archived(let key): progress.message("report archived as \(key)")
        case .failed(let why): progress.message("the report was not archived to S3 (\(why)); it is in \(configuration.reportsDirectory.path)")
        }
        let failed = finished.failed, total = finished.jobs.count
        progress.finish()
        progress.report(path: reportURL.path, done: total - failed, failed: failed, skipped: enqueued.skipped.count)
        if let chat, let telegramSettings {
            try await send(reportURL, to: chat, settings: telegramSettings, caption: "Batch \(root.lastPathComponent): \(total - failed) documents analysed, \(failed) failed")
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
}
