import Environment
import Foundation
@testable import OCR
import Testing

@Suite("Format detection, EXIF, CER and configuration")
struct FormatAndParsingTests {
    @Test("formats are detected by content, whatever the name says", arguments: [
        ("invoice.png", DocumentFormat.png), ("receipt.jpg", .jpeg), ("contract-2pages.tif", .tiff),
        ("certificate-mislabeled.tif", .png), ("utility-bill.pdf", .pdf), ("formats/note.webp", .webp),
        ("formats/note.bmp", .bmp), ("formats/note.gif", .gif), ("formats/note.jpeg-named.png", .jpeg),
    ])
    func detection(name: String, format: DocumentFormat) throws {
        #expect(DocumentFormat.detect(try Fixtures.data(name)) == format)
    }

    @Test("non-documents are not detected as anything")
    func nonDocuments() throws {
        #expect(DocumentFormat.detect(try Fixtures.data("bad/not-an-image.jpg")) == nil)
        #expect(DocumentFormat.detect(try Fixtures.data("bad/random.bin")) == nil)
        #expect(DocumentFormat.detect(Data()) == nil)
        #expect(DocumentFormat.detect(Data("BM".utf8)) == nil)
    }

    @Test("a PDF header after leading junk is still a PDF")
    func pdfWithPreamble() {
        #expect(DocumentFormat.detect(Data(repeating: 0x20, count: 100) + Data("%PDF-1.7\n".utf8)) == .pdf)
    }

    @Test("the EXIF orientation tag is read from the phone photo, and absent elsewhere")
    func exif() throws {
        let rotated = try Fixtures.data("receipt-exif-rotated.jpg")
        #expect(rotated.withUnsafeBytes { ExifOrientation.tag(inJPEG: $0) } == 6)
        #expect(ExifOrientation.correction(for: 6) == .init(quarterTurns: 1, mirror: false))
        let plain = try Fixtures.data("receipt.jpg")
        #expect(plain.withUnsafeBytes { ExifOrientation.tag(inJPEG: $0) } == nil)
    }

    @Test("a malformed EXIF block is ignored, never read out of bounds")
    func malformedExif() {
        var bytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x40] + Array("Exif".utf8) + [0, 0, 0x49, 0x49, 42, 0, 0xFF, 0xFF, 0xFF, 0x7F]
        bytes += [UInt8](repeating: 0, count: 10)
        #expect(bytes.withUnsafeBytes { ExifOrientation.tag(inJPEG: $0) } == nil)
        let truncated: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, 0xFF]
        #expect(truncated.withUnsafeBytes { ExifOrientation.tag(inJPEG: $0) } == nil)
    }

    @Test("character error rate ignores layout whitespace and counts edits")
    func characterErrorRate() {
        #expect(TextAccuracy.characterErrorRate(recognized: "Total  Due:\n\nUSD 12", reference: "Total Due: USD 12") == 0)
        #expect(TextAccuracy.characterErrorRate(recognized: "Tota1", reference: "Total") == 0.2)
        #expect(TextAccuracy.characterErrorRate(recognized: "", reference: "abcd") == 1)
        #expect(TextAccuracy.characterErrorRate(recognized: "", reference: "") == 0)
    }

    @Test("OCR variables are read, and a malformed one names itself")
    func configuration() throws {
        let parsed = try OCRConfiguration.fromEnvironment(["OCR_LANGUAGES": "eng+deu", "OCR_WORKERS": "3"])
        #expect(parsed.languages == "eng+deu")
        #expect(parsed.workers == 3)
        #expect(throws: ConfigurationError.self) { try OCRConfiguration.fromEnvironment(["OCR_WORKERS": "many"]) }
        do {
            _ = try OCRConfiguration.fromEnvironment(["OCR_LANGUAGES": "eng;rm -rf"])
            Issue.record("a malformed language list was accepted")
        } catch {
            #expect(error.variable == "OCR_LANGUAGES")
        }
        #expect(try OCRConfiguration.fromEnvironment([:]).workers == ProcessInfo.processInfo.activeProcessorCount)
    }

    @Test("every reader sees a variable alike: trimmed of spaces and newlines, blank as unset, switches as true or false")
    func environmentValues() throws {
        let variables = EnvironmentVariables(["A": "  eng \n", "BLANK": " \t\n", "ON": "Yes", "OFF": "0", "BAD": "maybe"])
        #expect(variables.value("A") == "eng")
        #expect(variables.value("BLANK") == nil)
        #expect(variables.value("MISSING") == nil)
        #expect(try variables.flag("ON", default: false))
        #expect(try variables.flag("OFF", default: true) == false)
        #expect(try variables.flag("MISSING", default: true))
        #expect(throws: ConfigurationError(variable: "BAD", problem: "expected true or false")) { try variables.flag("BAD", default: false) }
        // The OCR variables go through the same reader (a value pasted with its newline is still read).
        let parsed = try OCRConfiguration.fromEnvironment(["OCR_WORKERS": " 2\n", "OCR_LANGUAGES": "eng \n", "TESSDATA_PREFIX": " "])
        #expect(parsed.workers == 2)
        #expect(parsed.languages == "eng")
        #expect(parsed.tessdataPath == OCRConfiguration.defaultTessdataPath(environment: [:]))
    }
}
