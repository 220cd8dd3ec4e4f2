import CTesseract
import Foundation

/// One document's searchable PDF, written by Tesseract's own PDF renderer: each page is the normalised page image
/// (turned, deskewed, cropped, as it was read) with the recognised words laid over it as invisible text, so that
/// selecting, searching and copying in any PDF viewer finds the words where they stand.
///
/// Pages are added on the engine thread right after their recognition (the renderer reads the engine's results).
/// Page images are compressed by kind: a page of print on paper is stored as Tesseract's own black-and-white
/// reading of it (CCITT G4, lossless and a few KiB), anything with shades (a photo, a grey scan with pictures)
/// as JPEG. Not thread-safe: one writer per document, used by one engine thread.
final class SearchablePDFWriter {
    private let renderer: OpaquePointer
    private let base: String
    private(set) var pages = 0
    /// Time spent on the PDF: pages added (and any page read again for it), the document finished.
    private(set) var elapsed = Duration.zero
    /// A page with its own text, or one the renderer refused: the document gets no PDF.
    private var abandoned = false

    /// nil when the renderer cannot start (its font `pdf.ttf` missing from the tessdata folder, scratch unwritable).
    init?(scratch: URL, dataPath: String) {
        base = scratch.appendingPathComponent("searchable-\(UUID().uuidString)").path
        guard let renderer = TessPDFRendererCreate(base, dataPath, 0) else { return nil }
        guard TessResultRendererBeginDocument(renderer, "") != 0 else {
            TessDeleteResultRenderer(renderer)
            unlink(base + ".pdf")
            return nil
        }
        self.renderer = renderer
    }

    deinit {
        // Ends the document if `finish` never ran (a failed read): the file goes either way.
        TessDeleteResultRenderer(renderer)
        unlink(base + ".pdf")
    }

    /// False once the document gets no PDF.
    var isOpen: Bool { !abandoned }

    /// The document gets no PDF (a page that has its own text).
    func abandon() {
        abandoned = true
    }

    /// Adds the page `engine()` hands over, holding the page's reading; a page it cannot hand over or the renderer
    /// refuses abandons the document's PDF. Timed into `elapsed`.
    func add(_ page: LeptonicaImage, resolution: Int, from engine: () throws(OCRError) -> TesseractEngine) {
        guard !abandoned else { return }
        let started = ContinuousClock.now
        defer { elapsed += ContinuousClock.now - started }
        do {
            guard try engine().render(into: renderer, bilevel: page.isPrintOnPaper, resolution: resolution) else { return abandon() }
            pages += 1
        } catch {
            abandon()
        }
    }

    /// The finished PDF's bytes; nil when it was abandoned, no page was added or the file could not be completed.
    func finish() -> Data? {
        let started = ContinuousClock.now
        defer { elapsed += ContinuousClock.now - started }
        guard !abandoned, pages > 0, TessResultRendererEndDocument(renderer) != 0 else { return nil }
        return FileManager.default.contents(atPath: base + ".pdf").map(Self.withoutCreationDate)
    }

    /// The PDF with the renderer's `/CreationDate` blanked out (same length, so every offset stays right; the entry
    /// is optional). The clock was the only thing that made two readings of one document differ: with it, an OCR
    /// step killed after keeping its PDF and run again kept a second, orphaned copy under another SHA-256. Now the
    /// same document read again gives the same bytes and the same blob.
    static func withoutCreationDate(_ pdf: Data) -> Data {
        guard let start = pdf.range(of: Data("/CreationDate (".utf8), options: .backwards),
              let end = pdf[start.upperBound...].firstIndex(of: UInt8(ascii: ")")) else { return pdf }
        var blanked = pdf
        blanked.replaceSubrange(start.lowerBound...end, with: repeatElement(UInt8(ascii: " "), count: end - start.lowerBound + 1))
        return blanked
    }

}
