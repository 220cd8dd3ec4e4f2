import Foundation
import OCR
import Testing

/// Character error rate on every fixture against its ground truth. Thresholds are set from measurement
/// (`botgateway-bench ocr`: 0.00 % on every file) with room for Tesseract builds that differ slightly.
@Suite("OCR accuracy on the fixture corpus")
struct FixtureAccuracyTests {
    static let clean = 0.01
    static let photo = 0.03

    static let cases: [(String, Double)] = [
        ("invoice.png", clean),
        ("receipt.jpg", clean),
        ("letter.png", clean),
        ("contract-2pages.tif", clean),
        ("statement-scanned.pdf", clean),
        ("utility-bill.pdf", clean),
        ("certificate-low-contrast.png", clean),
        ("certificate-mislabeled.tif", clean),
        ("notice-small-text.png", 0.02),
        ("delivery-photo-tilted.jpg", photo),
        ("payslip-photo-sideways.jpg", photo),
        ("receipt-exif-rotated.jpg", photo),
        ("letter-upside-down.png", clean),
        ("formats/note.webp", clean),
        ("formats/note.bmp", clean),
        ("formats/note.gif", clean),
        ("formats/note.jpeg-named.png", clean),
    ]

    @Test("character error rate stays under the fixture's threshold", arguments: cases)
    func characterErrorRate(name: String, threshold: Double) async throws {
        try await Fixtures.withPool { pool in
            let result = try await pool.recognize(.file(Fixtures.path(name)))
            let cer = TextAccuracy.characterErrorRate(recognized: result.text, reference: try Fixtures.truth(name))
            #expect(cer <= threshold, "CER \(cer) for \(name):\n\(result.text)")
        }
    }

    @Test("multi-page TIFF gives one result per page, in order")
    func multipageTIFF() async throws {
        try await Fixtures.withPool { pool in
            let result = try await pool.recognize(.file(Fixtures.path("contract-2pages.tif")))
            #expect(result.format == .tiff)
            #expect(result.pages.map(\.index) == [0, 1])
            #expect(result.pages[0].text.contains("RENTAL AGREEMENT"))
            #expect(result.pages[1].text.contains("security deposit"))
        }
    }

    @Test("a PDF's text layer is used as is, a scanned PDF is rendered and recognised")
    func pdfSources() async throws {
        try await Fixtures.withPool { pool in
            let born = try await pool.recognize(.file(Fixtures.path("utility-bill.pdf")))
            #expect(born.pages.map(\.source) == [.textLayer, .textLayer])
            let scanned = try await pool.recognize(.file(Fixtures.path("statement-scanned.pdf")))
            #expect(scanned.pages.map(\.source) == [.ocr, .ocr])
            #expect(scanned.pages.allSatisfy { $0.confidence > 80 })
        }
    }

    @Test("phone photos are turned upright, straightened and small print is enlarged")
    func normalisation() async throws {
        try await Fixtures.withPool { pool in
            let tilted = try await pool.recognize(.file(Fixtures.path("delivery-photo-tilted.jpg")))
            #expect(abs(abs(tilted.pages[0].corrections.deskewDegrees) - 4.5) < 0.5)
            let sideways = try await pool.recognize(.file(Fixtures.path("payslip-photo-sideways.jpg")))
            #expect(sideways.pages[0].corrections.quarterTurns == 1)
            let exif = try await pool.recognize(.file(Fixtures.path("receipt-exif-rotated.jpg")))
            #expect(exif.pages[0].corrections.quarterTurns == 1)
            let upsideDown = try await pool.recognize(.file(Fixtures.path("letter-upside-down.png")))
            #expect(upsideDown.pages[0].corrections.quarterTurns == 2)
            let small = try await pool.recognize(.file(Fixtures.path("notice-small-text.png")))
            #expect(small.pages[0].corrections.scale > 2)
            let faded = try await pool.recognize(.file(Fixtures.path("certificate-low-contrast.png")))
            #expect(faded.pages[0].corrections.contrastStretched)
        }
    }

    @Test("without normalisation the tilted and sideways photos read worse (the CLI's behaviour)")
    func normalisationMatters() async throws {
        try await Fixtures.withPool(OCRConfiguration(workers: 1, normalize: false)) { pool in
            for name in ["payslip-photo-sideways.jpg", "receipt-exif-rotated.jpg", "letter-upside-down.png"] {
                let plain = try await pool.recognize(.file(Fixtures.path(name)))
                let cer = TextAccuracy.characterErrorRate(recognized: plain.text, reference: try Fixtures.truth(name))
                #expect(cer > 0.2, "\(name) read well without normalisation; the fixture no longer tests it")
            }
        }
    }
}
