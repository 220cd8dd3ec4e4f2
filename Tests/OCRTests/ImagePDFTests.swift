import Foundation
import OCR
import Testing
import TestSupport

/// Photos of pages as one PDF: a page per image in order, JPEGs copied as they are, an EXIF-turned photo upright,
/// pages of paper size, the same pages giving the same bytes; bad pages refused with a clear error.
@Suite("Page photos as one PDF")
struct ImagePDFTests {
    static func write(_ data: Data, _ name: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("image-pdf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("three JPEG pages and a PNG make a four-page PDF that qpdf accepts, with each JPEG's bytes inside unchanged")
    func pages() throws {
        try #require(PDFCheck.missingTools.isEmpty, "poppler-utils and qpdf are installed by scripts/setup")
        let bands = PagePhotos.bands(of: Fixtures.path("invoice.png"), count: 3)
        let files = try bands.enumerated().map { try Self.write($0.element, "page-\($0.offset).jpg") } + [Fixtures.path("letter.png")]
        let pdf = try ImagePDF.build(files: files, limits: OCRLimits())
        let path = try Self.write(pdf, "merged.pdf")
        #expect(try PDFCheck.pageCount(path) == 4)
        let check = try PDFCheck.qpdfCheck(path)
        #expect(check.exitCode == 0, "\(check.output)")
        for band in bands { #expect(pdf.range(of: band) != nil, "a JPEG page is embedded as it was sent") }
        #expect(try ImagePDF.build(files: files, limits: OCRLimits()) == pdf, "the same pages make the same bytes")
        // A page as tall as paper, whatever the photo's header says.
        for page in try PDFCheck.pages(path) { #expect(page.height > 100 && page.height < 17 * 72 + 1) }
    }

    @Test("a photo an EXIF tag turns is put upright; a PDF, an empty file and a page over the pixel limit are refused")
    func turnsAndRefusals() throws {
        let turned = try ImagePDF.build(files: [Fixtures.path("receipt-exif-rotated.jpg")], limits: OCRLimits())
        let path = try Self.write(turned, "turned.pdf")
        let page = try #require(try PDFCheck.pages(path).first)
        #expect(page.width > page.height, "turned as its EXIF tag says: stored 407 × 640, shown 640 × 407")
        #expect(throws: OCRError.self) { try ImagePDF.build(files: [Fixtures.path("utility-bill.pdf")], limits: OCRLimits()) }
        let empty = try Self.write(Data(), "empty.jpg")
        #expect(throws: OCRError.emptyFile) { try ImagePDF.build(files: [empty], limits: OCRLimits()) }
        #expect(throws: OCRError.self) { try ImagePDF.build(files: [Fixtures.path("invoice.png")], limits: OCRLimits(maxPixels: 1000)) }
        #expect(throws: OCRError.emptyFile) { try ImagePDF.build(files: [], limits: OCRLimits()) }
    }
}
