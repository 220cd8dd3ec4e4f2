import Foundation
import Logging
import OCR
import Plugins
import Storage

/// `botgateway batch FOLDER` as a use case: take the folder's files in (each stored once, one job each in the
/// folder's group), run the group's jobs to the end, write the consolidated report (and an export). Running it
/// again on the same folder resumes: the group and its finished jobs are found again. The CLI only drives it
/// and prints progress; tests call it the same way.
public struct BatchRun: Sendable {
    let documents: any DocumentStore
    let queue: any JobQueue
    let blobs: BlobStore
    let intake: DocumentIntake
    let steps: StepCatalog
    let reports: StoreReportService

    public init(documents: any DocumentStore, queue: any JobQueue, blobs: BlobStore, intake: DocumentIntake, steps: StepCatalog,
                reports: StoreReportService) {
        self.documents = documents
        self.queue = queue
        self.blobs = blobs
        self.intake = intake
        self.steps = steps
        self.reports = reports
    }

    /// What taking a folder in found.
    public struct Enqueued: Sendable {
        public var group: GroupRecord
        /// Entries looked at, files and others.
        public var entries: Int
        public var created: Int
        public var resumed: Int
        /// Entries that are not documents, and files whose content came earlier in the folder.
        public var skipped: [ReportBuilder.Skipped]
    }

    /// Lists the folder (`excluding` the report and export paths) and queues a job per distinct document. With
    /// `mergePattern` (a regular expression with two groups: the document's name and the page number, e.g.
    /// `(.+)-(\d+)\.jpg`), images whose names match it with the same name (in the same folder) are one document,
    /// their pages in page-number order (`ImagePDF`).
    public func enqueue(folder root: URL, recursive: Bool, excluding: Set<String>, mergePattern: NSRegularExpression? = nil) async throws -> Enqueued {
        let group = try await documents.group(kind: .batch, key: "batch:" + root.path, title: "Batch report: \(root.lastPathComponent)")
        let listing = FolderListing.list(root, recursive: recursive, excluding: excluding)
        // What an earlier `batch --pdf` wrote beside the documents is theirs, not a document (with or without --pdf now).
        let ours = SearchablePDFs.writtenBeside(listing.files)
        var files = listing.files.filter { !ours.contains($0) }
        var skipped = listing.skipped
        var merged: [(name: String, pages: [URL])] = []
        if let mergePattern {
            (files, merged) = Self.pageGroups(files, root: root, pattern: mergePattern)
        }
        var pending: [(document: DocumentRecord, request: JobRequest)] = []
        var created = 0, resumed = 0
        var firstNames: [String: String] = [:]
        func flush() async throws {
            guard !pending.isEmpty else { return }
            // The blobs reach the disk before the database says they exist.
            try blobs.syncToDisk()
            for result in try await queue.enqueue(pending, steps: steps.names) {
                if result.created { created += 1 } else { resumed += 1 }
            }
            pending.removeAll(keepingCapacity: true)
        }
        for file in files {
            let relative = FolderListing.relativeName(file, root)
            let document: DocumentRecord
            do {
                document = try await intake.take(file: file.path, displayName: relative, sync: false)
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
        for (name, pages) in merged {
            let document: DocumentRecord
            do {
                let pdf = try await BlockingWork.run { try ImagePDF.build(files: pages.map(\.path), limits: OCRLimits()) }
                document = try await intake.take(data: pdf, displayName: "\(name).pdf")
            } catch {
                skipped.append(ReportBuilder.Skipped(name: name, reason: "its \(pages.count) pages could not be put together: \(error)"))
                continue
            }
            if let first = firstNames[document.sha256] {
                skipped.append(ReportBuilder.Skipped(name: name, reason: "same pages as \(first)"))
                continue
            }
            firstNames[document.sha256] = name
            pending.append((document, JobRequest(origin: .batch, sourceName: "\(name).pdf", groupID: group.id)))
        }
        try await flush()
        let entries = files.count + merged.reduce(0) { $0 + $1.pages.count } + listing.skipped.count
        return Enqueued(group: group, entries: entries, created: created, resumed: resumed, skipped: skipped)
    }

    /// Splits the files into those on their own and the page groups `pattern` names (two or more images with the
    /// same name in the same folder), each group's pages in page-number order.
    static func pageGroups(_ files: [URL], root: URL, pattern: NSRegularExpression) -> (single: [URL], groups: [(name: String, pages: [URL])]) {
        var groups: [String: [(page: Int, file: URL)]] = [:]
        for file in files {
            let name = file.lastPathComponent
            guard let match = pattern.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)), match.numberOfRanges >= 3,
                  let stem = Range(match.range(at: 1), in: name), let number = Range(match.range(at: 2), in: name),
                  let page = Int(name[number]) else { continue }
            let folder = FolderListing.relativeName(file.deletingLastPathComponent(), root)
            let key = (folder.isEmpty || folder == "." ? "" : folder + "/") + name[stem]
            groups[key, default: []].append((page, file))
        }
        let kept = groups.filter { $0.value.count > 1 }
        let taken = Set(kept.values.flatMap { $0.map(\.file) })
        let ordered = kept.keys.sorted().map { key in
            (name: key, pages: kept[key]!.sorted { ($0.page, $0.file.path) < ($1.page, $1.file.path) }.map(\.file))
        }
        return (files.filter { !taken.contains($0) }, ordered)
    }

    /// Makes the group's waiting retries due now (running the batch again is the user saying "now") and
    /// returns its jobs by state, for progress.
    public func prepare(_ group: GroupRecord) async throws -> [JobState: Int] {
        guard let groupID = group.id else { return [:] }
        try await queue.expediteQueuedJobs(groupID: groupID)
        return try await queue.jobCounts(groupID: groupID)
    }

    /// Runs the group's jobs until none is left but deferrable work (archiving) waiting for a retry.
    /// Cancelling the task stops it; the jobs are handed back and the next run resumes them.
    public func process(_ group: GroupRecord, workers: Int, observer: (any PipelineObserver)?) async {
        let pipeline = Pipeline(queue: queue, blobs: blobs, steps: steps, observer: observer, logger: Logger(label: "pipeline"))
        await pipeline.run(workers: workers, groupID: group.id, untilIdle: true)
    }

    /// What the run came to.
    public struct Finished: Sendable {
        public var jobs: [JobDetails]
        public var report: WrittenReport
        public var failed: Int { jobs.filter { $0.job.state == .failed }.count }
    }

    /// Where `batch --pdf` writes a document's searchable PDF: next to its original (`scan.jpg` → `scan-searchable.pdf`),
    /// or under `folder` at the same relative place.
    public static func searchablePDFURL(relativeName: String, root: URL, folder: URL?) -> URL {
        let relative = ((relativeName as NSString).deletingLastPathComponent as NSString)
            .appendingPathComponent(SearchablePDFs.fileName(for: (relativeName as NSString).lastPathComponent))
        return (folder ?? root).appendingPathComponent(relative).standardizedFileURL
    }

    /// `batch --pdf`: each read document's searchable PDF written as `searchablePDFURL` says. Returns how many were
    /// written and, for each document that got none, why (a PDF with its own text, a failed read, an error).
    public func writeSearchablePDFs(_ group: GroupRecord, root: URL, folder: URL?,
                                    engines: @escaping @Sendable () async throws -> OCREnginePool) async throws -> (written: Int, notes: [String]) {
        guard let groupID = group.id else { throw StorageError.notFound("group \(group.key)") }
        let jobs = try await documents.jobDetails(groupID: groupID)
        let pdfs = SearchablePDFs(blobs: blobs, engines: engines)
        var written = 0, notes: [String] = []
        for details in jobs {
            let name = details.job.sourceName
            guard details.job.state == .done else {
                notes.append("\(name): not read, no searchable PDF")
                continue
            }
            do {
                switch try await pdfs.file(for: details.document) {
                case .file(let path):
                    let target = Self.searchablePDFURL(relativeName: name, root: root, folder: folder)
                    do {
                        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                        try Data(contentsOf: URL(fileURLWithPath: path)).write(to: target, options: .atomic)
                    } catch {
                        throw OutputWriteError(what: "searchable PDF", path: target.path, reason: error.localizedDescription)
                    }
                    written += 1
                case .hasOwnText: notes.append("\(name): a PDF with its own text, searchable as it is")
                case .notReadYet: notes.append("\(name): not read, no searchable PDF")
                }
            } catch {
                notes.append("\(name): no searchable PDF (\(error))")
            }
        }
        return (written, notes)
    }

    /// The consolidated report at `report` (and, with `export`, one row per document there).
    public func finish(_ group: GroupRecord, skipped: [ReportBuilder.Skipped], report: URL,
                       export: (path: String, format: ExportFormat)? = nil) async throws -> Finished {
        guard let groupID = group.id else { throw StorageError.notFound("group \(group.key)") }
        let jobs = try await documents.jobDetails(groupID: groupID)
        let written = try await reports.batchReport(group: group, jobs: jobs, skipped: skipped, to: report)
        if let export { try DocumentExport.write(jobs, as: export.format, to: export.path) }
        return Finished(jobs: jobs, report: written)
    }
}
