import Foundation
import TestSupport
import Testing

/// `botgateway ocr` as a user runs it: a real process, its output and exit code.
@Suite("botgateway ocr")
struct OCRCommandTests {
    @Test("prints the text of each file and exits 0")
    func plainText() async throws {
        let outcome = try await ChildProcess.runOffPool([Fixtures.binary, "ocr", Fixtures.path("receipt.jpg")],
                                           environment: ChildProcess.environment(["OCR_WORKERS": "1", "LOG_LEVEL": "error"]))
        #expect(outcome.exitCode == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput.contains("CORNER CAFE"))
        #expect(outcome.standardOutput.contains("TOTAL GBP 8.25"))
    }

    @Test("--json prints one object per file, refusals included, and exits 1 when any file failed")
    func jsonLines() async throws {
        let outcome = try await ChildProcess.runOffPool([Fixtures.binary, "ocr", "--json", Fixtures.path("utility-bill.pdf"), Fixtures.path("bad/truncated.png")],
                                           environment: ChildProcess.environment(["OCR_WORKERS": "2", "LOG_LEVEL": "error"]))
        #expect(outcome.exitCode == 1)
        let lines = outcome.standardOutput.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 2)
        let good = try #require(lines[0])
        #expect(good["file"] as? String == Fixtures.path("utility-bill.pdf"))
        #expect((good["text"] as? String)?.contains("Amount due: EUR 74.30") == true)
        #expect(good["pages"] as? Int == 2)
        #expect(good["confidence"] as? Double != nil)
        #expect(good["ms"] as? Int != nil)
        let bad = try #require(lines[1])
        #expect(bad["code"] as? String == "corrupt")
        #expect((bad["error"] as? String)?.isEmpty == false)
    }

    @Test("--json --words adds each word with its page, line, box and confidence")
    func words() async throws {
        let outcome = try await ChildProcess.runOffPool([Fixtures.binary, "ocr", "--json", "--words", Fixtures.path("receipt.jpg")],
                                           environment: ChildProcess.environment(["OCR_WORKERS": "1", "LOG_LEVEL": "error"]))
        #expect(outcome.exitCode == 0, "\(outcome.standardError)")
        let line = try #require(try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])
        let words = try #require(line["words"] as? [[String: Any]])
        let text = try #require(line["text"] as? String)
        #expect(words.compactMap { $0["text"] as? String } == text.split(whereSeparator: \.isWhitespace).map(String.init))
        let total = try #require(words.first { $0["text"] as? String == "8.25" })
        #expect(total["page"] as? Int == 0)
        #expect((total["width"] as? Int ?? 0) > 0 && (total["height"] as? Int ?? 0) > 0)
        #expect((total["confidence"] as? Double ?? 0) > 50)
        // Words on one line share its number; lines are numbered in reading order.
        let lines = words.compactMap { $0["line"] as? Int }
        #expect(lines == lines.sorted())

        let plain = try await ChildProcess.runOffPool([Fixtures.binary, "ocr", "--json", Fixtures.path("receipt.jpg")],
                                         environment: ChildProcess.environment(["OCR_WORKERS": "1", "LOG_LEVEL": "error"]))
        #expect(!plain.standardOutput.contains("\"words\""))
        let misuse = try await ChildProcess.runOffPool([Fixtures.binary, "ocr", "--words", Fixtures.path("receipt.jpg")])
        #expect(misuse.exitCode == 2)
    }

    @Test("--hocr prints Tesseract's hOCR: one page, lines and words with boxes and confidences")
    func hocr() async throws {
        let outcome = try await ChildProcess.runOffPool([Fixtures.binary, "ocr", "--hocr", Fixtures.path("contract-2pages.tif")],
                                           environment: ChildProcess.environment(["OCR_WORKERS": "1", "LOG_LEVEL": "error"]))
        #expect(outcome.exitCode == 0, "\(outcome.standardError)")
        let hocr = outcome.standardOutput
        #expect(hocr.hasPrefix("<?xml"))
        #expect(hocr.contains("<meta name='ocr-system' content='tesseract"))
        #expect(hocr.contains("class='ocr_page' id='page_1'"))
        #expect(hocr.contains("class='ocr_page' id='page_2'"))
        #expect(hocr.contains("class='ocr_line'"))
        #expect(hocr.contains("class='ocrx_word'"))
        #expect(hocr.contains("x_wconf"))
        #expect(hocr.contains(">AGREEMENT<"))
        #expect(hocr.hasSuffix("</html>\n"))
    }

    @Test("a malformed variable stops start-up with one line naming it, exit code 2")
    func badConfiguration() async throws {
        let outcome = try await ChildProcess.runOffPool([Fixtures.binary, "ocr", Fixtures.path("receipt.jpg")],
                                           environment: ChildProcess.environment(["OCR_WORKERS": "zero"]))
        #expect(outcome.exitCode == 2)
        #expect(outcome.standardError.contains("OCR_WORKERS"))
    }

    @Test("bad usage exits 2")
    func badUsage() async throws {
        let outcome = try await ChildProcess.runOffPool([Fixtures.binary, "ocr"])
        #expect(outcome.exitCode == 2)
        let unknown = try await ChildProcess.runOffPool([Fixtures.binary, "ocr", "--no-such-flag", "x.png"])
        #expect(unknown.exitCode == 2)
    }
}
