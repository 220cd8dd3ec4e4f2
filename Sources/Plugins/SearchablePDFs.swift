import Foundation
import OCR
import Storage

/// Documents as searchable PDFs (their pages with an invisible text layer, see `SearchablePDFWriter`): the OCR step
/// keeps one in the blob store for every document it reads from images; a document read before that (or whose PDF
/// could not be kept) gets one made when someone asks for it. What the bot's `/pdf`, the API, the dashboard and
/// `batch --pdf` hand out.
public struct SearchablePDFs: Sendable {
    public enum Answer: Sendable, Equatable {
        /// A file on this node's disk holding the PDF.
        case file(path: String)
        /// The document is a PDF with its own text: it is searchable as it is.
        case hasOwnText
        /// The document has not been read yet (its OCR step has not run).
        case notReadYet
    }

    let blobs: BlobStore
    let engines: @Sendable () async throws -> OCREnginePool

    public init(blobs: BlobStore, engines: @escaping @Sendable () async throws -> OCREnginePool) {
        self.blobs = blobs
        self.engines = engines
    }

    /// The document's searchable PDF, made now (one more OCR reading) when none was kept.
    public func file(for document: DocumentRecord) async throws -> Answer {
        guard let result = try? StepOutput.ocr(document.ocrResult) else { return .notReadYet }
        if result.pages.contains(where: { $0.source == .textLayer }) { return .hasOwnText }
        if let sha256 = result.searchablePDFSHA256, let path = try? await blobs.checkout(sha256: sha256),
           FileManager.default.fileExists(atPath: path) {
            return .file(path: path)
        }
        let original = try await blobs.checkout(document)
        let read: OCRResult
        do {
            read = try await engines().recognize(.file(original), searchablePDF: true)
        } catch let error as OCRError {
            throw PluginError(error.isTransient ? .transient : .permanent, error.description)
        }
        guard let pdf = read.searchablePDF else { return .hasOwnText }
        return .file(path: try await blobs.checkout(sha256: try await Self.keep(pdf, in: blobs)))
    }

    /// Stores a PDF in the blob store (and the shared store, with `BLOB_STORE=s3`); returns its SHA-256.
    static func keep(_ pdf: Data, in blobs: BlobStore) async throws -> String {
        let stored = try await BlockingWork.run { try blobs.store(data: pdf) }
        try await blobs.publish(stored, contentType: "application/pdf")
        return stored.sha256
    }

    /// What the PDF is called when handed out: `scan.jpg` → `scan-searchable.pdf`.
    public static func fileName(for sourceName: String) -> String {
        let stem = (sourceName as NSString).deletingPathExtension
        return (stem.isEmpty ? "document" : stem) + fileSuffix
    }

    static let fileSuffix = "-searchable.pdf"

    /// The files that are searchable PDFs written next to another of the files (`scan-searchable.pdf` beside
    /// `scan.jpg`), by `batch --pdf`: what a folder run must not take in as documents.
    public static func writtenBeside(_ files: [URL]) -> Set<URL> {
        let stems = Set(files.map { $0.deletingPathExtension().path })
        return Set(files.filter { file in
            file.lastPathComponent.hasSuffix(fileSuffix) && stems.contains(String(file.path.dropLast(fileSuffix.count)))
        })
    }

    /// The searchable PDF's SHA-256 as the OCR step recorded it, for `/forget` and the archive.
    public static func storedSHA256(of document: DocumentRecord) -> String? {
        (try? StepOutput.ocr(document.ocrResult))??.searchablePDFSHA256
    }
}
