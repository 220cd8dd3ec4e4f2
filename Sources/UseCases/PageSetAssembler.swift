import Foundation
import Logging
import OCR
import Plugins
import Storage

/// Turns a ready page set (an album gone quiet, a `/merge` that is done) into documents: one multi-page
/// document (the pages as one PDF, `ImagePDF`: JPEGs as they are) with one job, or a job per page in one album
/// group as before. `/merge` sets and `/albums merge` chats merge every set of images; `/albums auto` (the
/// default) reads each page first and merges only when `PageContinuity` finds the pages continue each other.
/// The pages read for that decision are not read again: their text goes with the job(s) that follow.
/// Anything that is not an image (a PDF in an album), or a set of one, stays apart.
///
/// Safe to run twice on the same set after a crash: the merged job is keyed by the set (`pages:KEY`), the
/// page jobs by their updates, and the same pages make the same PDF bytes.
public struct PageSetAssembler: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// One document of `pages` pages.
        case merged(Submission, pages: Int, reason: String)
        /// A job per page, in the album group `groupID` when there are several.
        case separate([Submission], groupID: Int64?, reason: String)
        /// The set had no pages (a `/merge` nothing followed).
        case empty

        var summary: String {
            switch self {
            case .merged(_, let pages, let reason): "\(pages) pages merged: \(reason)"
            case .separate(let jobs, _, let reason): "\(jobs.count) kept apart: \(reason)"
            case .empty: "empty"
            }
        }
    }

    public typealias PageReader = @Sendable (_ path: String) async throws -> OCRResult

    let store: any PageSetStore
    let documents: any DocumentStore
    let jobs: any JobService
    let blobs: BlobStore
    let intake: DocumentIntake
    /// Reads a page for `/albums auto`; nil (a gateway without engines) keeps auto albums apart.
    let read: PageReader?
    let limits: OCRLimits
    let logger: Logger

    public init(store: any PageSetStore, documents: any DocumentStore, jobs: any JobService, blobs: BlobStore, intake: DocumentIntake,
                read: PageReader?, limits: OCRLimits = OCRLimits(), logger: Logger = Logger(label: "pages")) {
        self.store = store
        self.documents = documents
        self.jobs = jobs
        self.blobs = blobs
        self.intake = intake
        self.read = read
        self.limits = limits
        self.logger = logger
    }

    /// Formats a page of a merged document can be.
    static let imageFormats: Set<String> = Set(DocumentFormat.allCases.filter { $0 != .pdf }.map(\.rawValue))

    public func assemble(_ set: PageSetRecord) async throws -> Outcome {
        guard let setID = set.id else { throw StorageError.notFound("page set \(set.key)") }
        let items = try await store.pages(ofSet: setID)
        guard !items.isEmpty else {
            try await store.removePageSet(id: setID)
            return .empty
        }
        let images = items.count > 1 && items.allSatisfy { Self.imageFormats.contains($0.document.format) }
        // Fetched once (from the shared document store, when there is one) for the reading and the PDF.
        let paths = images ? try await checkout(items) : []
        var texts: [OCRResult]? = nil
        let verdict: PageContinuity.Verdict
        if !images {
            verdict = .separate(because: items.count == 1 ? "one page" : "not every item is a photo or an image of a page")
        } else if set.mode == .merge {
            // `/merge` sets are always `merge`.
            verdict = .oneDocument(because: set.kind == .merge ? "sent after /merge" : "this chat merges albums")
        } else if set.mode == .separate {
            verdict = .separate(because: "this chat keeps albums apart")
        } else if let read {
            do {
                let results = try await readPages(paths, with: read)
                texts = results
                verdict = PageContinuity.decide(pages: results.map(\.text))
            } catch let error as OCRError where !error.isTransient {
                // A page that cannot be read is refused on its own, with its own reason.
                verdict = .separate(because: "a page could not be read: \(error.description)")
            }
        } else {
            verdict = .separate(because: "no OCR engine on this gateway to tell pages from documents")
        }
        var outcome: Outcome
        if verdict.merges {
            do {
                outcome = try await merge(set, items: items, paths: paths, read: texts, reason: verdict.reason)
            } catch let error as OCRError where !error.isTransient {
                outcome = try await separate(set, items: items, read: texts, reason: "the pages could not be put together: \(error.description)")
            }
        } else {
            outcome = try await separate(set, items: items, read: texts, reason: verdict.reason)
        }
        try await store.removePageSet(id: setID)
        if case .merged = outcome { await dropPages(items) }
        logger.info("page set assembled", metadata: ["set": "\(set.key)", "pages": "\(items.count)", "outcome": "\(outcome.summary)"])
        return outcome
    }

    /// Each page read on its own (as it would be as a document of its own), all at once: the engines share them out.
    private func readPages(_ paths: [String], with read: @escaping PageReader) async throws -> [OCRResult] {
        try await withThrowingTaskGroup(of: (Int, OCRResult).self) { group in
            for (index, path) in paths.enumerated() {
                group.addTask { (index, try await read(path)) }
            }
            var results = [OCRResult?](repeating: nil, count: paths.count)
            for try await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
    }

    private func merge(_ set: PageSetRecord, items: [PageSetItem], paths: [String], read: [OCRResult]?, reason: String) async throws -> Outcome {
        let limits = self.limits
        let pdf = try await BlockingWork.run { try ImagePDF.build(files: paths, limits: limits) }
        var document = try await intake.take(data: pdf, displayName: Self.mergedName(items))
        // The pages' readings become the document's, unless they came with searchable PDFs of their own: then the
        // document is read again as a whole for its one searchable PDF, and the pages' PDFs are not kept.
        let pagePDFs = (read ?? []).compactMap(\.searchablePDFSHA256)
        for sha in pagePDFs { try? await blobs.forget(sha256: sha) }
        if pagePDFs.isEmpty, let read, let joined = Self.joined(read), try await documents.document(sha256: document.sha256) == nil {
            document.ocrResult = try JSONEncoder().encode(joined)
            document.ocrText = joined.text
            document.pages = joined.pages.count
        }
        let request = JobRequest(origin: .telegram, sourceName: document.originalName, chatID: set.chatID, userID: set.userID,
                                 messageID: set.messageID, languageCode: set.languageCode, sourceKey: "pages:\(set.key)")
        let submission = try await jobs.submit(stored: document, request: request)
        return .merged(submission, pages: items.count, reason: reason)
    }

    private func separate(_ set: PageSetRecord, items: [PageSetItem], read: [OCRResult]?, reason: String) async throws -> Outcome {
        var groupID: Int64? = nil
        if items.count > 1 {
            groupID = try await documents.group(kind: .album, key: set.key, title: "Album", chatID: set.chatID, userID: set.userID, now: .now).id
        }
        var submissions: [Submission] = []
        for (index, item) in items.enumerated() {
            var document = item.document
            if let read, index < read.count, try await documents.document(sha256: document.sha256) == nil {
                document.ocrResult = try JSONEncoder().encode(read[index])
                document.ocrText = read[index].text
                document.pages = read[index].pages.count
            }
            let request = JobRequest(origin: .telegram, sourceName: document.originalName, groupID: groupID, chatID: set.chatID, userID: set.userID,
                                     messageID: item.messageID, languageCode: set.languageCode, sourceKey: item.sourceKey)
            var submission = try await jobs.submit(stored: document, request: request)
            submission.albumID = groupID
            submissions.append(submission)
        }
        return .separate(submissions, groupID: groupID, reason: reason)
    }

    /// The pages' own files once they are inside the merged PDF, unless a document or another set uses the same
    /// content: a forgotten merged document must leave no copy of its pages behind.
    private func dropPages(_ items: [PageSetItem]) async {
        for item in items {
            do {
                guard try await documents.document(sha256: item.document.sha256) == nil,
                      try await !store.isPagePending(sha256: item.document.sha256) else { continue }
                try await blobs.forget(item.document)
            } catch {
                logger.warning("a merged page's own file not removed", metadata: ["sha256": "\(item.document.sha256)", "error": "\(error)"])
            }
        }
    }

    /// The pages' files on this node's disk (fetched from the shared document store when there is one).
    private func checkout(_ items: [PageSetItem]) async throws -> [String] {
        var paths: [String] = []
        for item in items { paths.append(try await blobs.checkout(item.document)) }
        return paths
    }

    /// The pages read one by one, as one document's result.
    static func joined(_ pages: [OCRResult]) -> OCRResult? {
        guard !pages.isEmpty else { return nil }
        var all: [OCRPage] = []
        var timings = OCRTimings()
        for result in pages {
            for var page in result.pages {
                page.index = all.count
                all.append(page)
            }
            timings.queueMilliseconds += result.timings.queueMilliseconds
            timings.prepareMilliseconds += result.timings.prepareMilliseconds
            timings.recognizeMilliseconds += result.timings.recognizeMilliseconds
            timings.totalMilliseconds += result.timings.totalMilliseconds
        }
        return OCRResult(format: .pdf, pages: all, timings: timings)
    }

    /// "receipt-3-pages.pdf" after the first page's name.
    static func mergedName(_ items: [PageSetItem]) -> String {
        let first = (items.first?.document.originalName ?? "document") as NSString
        let stem = first.deletingPathExtension.isEmpty ? "document" : first.deletingPathExtension
        return DocumentIntake.safeName("\(stem)-\(items.count)-pages.pdf")
    }
}
