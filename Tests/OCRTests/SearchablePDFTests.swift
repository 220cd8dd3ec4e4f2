import Foundation
import OCR
import Testing
import TestSupport

/// The searchable PDF checked with other programs than the one that wrote it: poppler reads back the OCR text
/// with each word where OCR found it, pdfinfo and qpdf accept the file, and page images are encoded by kind.
@Suite("Searchable PDF", .serialized)
struct SearchablePDFTests {
    static let documents = ["letter.png", "contract-2pages.tif", "statement-scanned.pdf", "invoice.png", "receipt-exif-rotated.jpg",
                            "payslip-photo-sideways.jpg", "delivery-photo-tilted.jpg", "letter-upside-down.png", "notice-small-text.png"]

    static func write(_ pdf: Data) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("searchable-\(UUID().uuidString).pdf").path
        try pdf.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("its text is the OCR text, its words stand within a few points of the OCR's boxes, and pdfinfo and qpdf accept it",
          .enabled(if: PDFCheck.missingTools.isEmpty, "needs \(PDFCheck.missingTools.joined(separator: ", ")) (scripts/setup installs them)"),
          arguments: documents)
    func readsBack(_ name: String) async throws {
        let result = try await Fixtures.withPool { try await $0.recognize(.file(Fixtures.path(name)), searchablePDF: true) }
        let pdf = try #require(result.searchablePDF, "no PDF for \(name)")
        let path = try Self.write(pdf)
        defer { unlink(path) }
        #expect(try PDFCheck.pageCount(path) == result.pages.count)
        let check = try PDFCheck.qpdfCheck(path)
        #expect(check.exitCode == 0, "\(check.output)")
        #expect(PDFCheck.sameText(try PDFCheck.text(path), result.text))

        let pages = try PDFCheck.pages(path)
        try #require(pages.count == result.pages.count)
        var placed = 0, total = 0
        for (page, read) in zip(pages, result.pages) {
            // The page is the image as read, at the resolution it was read with: points per pixel from its width.
            let scale = page.width / Double(read.width)
            // A tenth of an inch of white below the page read (see `TesseractEngine.render`).
            #expect(abs(page.height - Double(read.height) * scale - 7.2) < 1, "page \(read.index) of \(name) has another shape than the page read")
            for word in (read.lines ?? []).flatMap(\.words) {
                total += 1
                let left = Double(word.box.x) * scale, middle = (Double(word.box.y) + Double(word.box.height) / 2) * scale
                // pdftotext splits a word whose letters it finds spaced out ("Softw are"): its first piece starts it.
                let nearest = page.words.filter { !$0.text.isEmpty && word.text.hasPrefix($0.text) }
                    .min { abs($0.xMin - left) + abs(($0.yMin + $0.yMax) / 2 - middle) < abs($1.xMin - left) + abs(($1.yMin + $1.yMax) / 2 - middle) }
                // On the word: it starts where OCR saw it start, and its height (the line's, from its baseline) covers
                // the middle of what OCR saw.
                if let nearest, abs(nearest.xMin - left) <= 3, nearest.yMin <= middle, middle <= nearest.yMax { placed += 1 }
            }
        }
        #expect(total > 0 && placed == total, "\(placed) of \(total) words of \(name) within 3 pt of where OCR read them")
    }

    @Test("print on paper is stored black and white (G4), a phone photo as JPEG",
          .enabled(if: PDFCheck.missingTools.isEmpty, "needs \(PDFCheck.missingTools.joined(separator: ", ")) (scripts/setup installs them)"))
    func encodings() async throws {
        let letter = try await Fixtures.withPool { try await $0.recognize(.file(Fixtures.path("letter.png")), searchablePDF: true) }
        let letterPath = try Self.write(try #require(letter.searchablePDF))
        defer { unlink(letterPath) }
        #expect(try PDFCheck.imageEncodings(letterPath) == ["ccitt"])
        // Our fixtures' "photos" are rendered flat; real ones have shading (one flat, well-lit photo in the corpus may
        // pass for print, so most, not all).
        guard let root = OCRCorpus.root else { return }
        let photos = try OCRCorpus.load([root.appendingPathComponent("photos").path]).prefix(4)
        var jpeg = 0
        try await Fixtures.withPool { pool in
            for photo in photos {
                let read = try await pool.recognize(.file(photo.path), searchablePDF: true)
                let path = try Self.write(try #require(read.searchablePDF))
                defer { unlink(path) }
                if try PDFCheck.imageEncodings(path) == ["jpeg"] { jpeg += 1 }
                #expect(PDFCheck.sameText(try PDFCheck.text(path), read.text))
            }
        }
        #expect(jpeg >= 3, "\(jpeg) of \(photos.count) photos stored as JPEG")
    }

    /// A worker killed after its OCR step kept the PDF reads the document again on restart: the second PDF must be
    /// the same bytes (the same blob), not a second copy that differs only in the renderer's clock.
    @Test("the same document read twice, seconds apart, gives the same PDF bytes, with no creation date")
    func deterministic() async throws {
        try await Fixtures.withPool { pool in
            let first = try #require(try await pool.recognize(.file(Fixtures.path("letter.png")), searchablePDF: true).searchablePDF)
            try await Task.sleep(for: .milliseconds(1100))
            let second = try #require(try await pool.recognize(.file(Fixtures.path("letter.png")), searchablePDF: true).searchablePDF)
            #expect(first == second)
            #expect(first.range(of: Data("/CreationDate".utf8)) == nil)
            if PDFCheck.missingTools.isEmpty {
                let path = try Self.write(first)
                defer { unlink(path) }
                #expect(try PDFCheck.qpdfCheck(path).exitCode == 0)
            }
        }
    }

    @Test("a PDF with its own text gets none, and none is made unless asked for")
    func onlyWhenNeeded() async throws {
        try await Fixtures.withPool { pool in
            let textPDF = try await pool.recognize(.file(Fixtures.path("utility-bill.pdf")), searchablePDF: true)
            #expect(textPDF.searchablePDF == nil)
            #expect(textPDF.timings.searchablePDFMilliseconds != nil)
            let plain = try await pool.recognize(.file(Fixtures.path("letter.png")))
            #expect(plain.searchablePDF == nil)
            #expect(plain.timings.searchablePDFMilliseconds == nil)
            // The same words either way: the PDF never changes what is read.
            let both = try await pool.recognize(.file(Fixtures.path("letter.png")), searchablePDF: true)
            #expect(both.text == plain.text)
            // Not part of the stored JSON: the pipeline keeps the PDF as a file of its own.
            let json = try JSONEncoder().encode(both)
            #expect(try JSONDecoder().decode(OCRResult.self, from: json).searchablePDF == nil)
        }
    }
}
