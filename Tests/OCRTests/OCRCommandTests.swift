import Foundation
import TestSupport
import Testing

/// `botgateway ocr` as a user runs it: a real process, its output and exit code.
@Suite("botgateway ocr")
struct OCRCommandTests {
    @Test("prints the text of each file and exits 0")
    func plainText() throws {
        let outcome = try ChildProcess.run([Fixtures.binary, "ocr", Fixtures.path("receipt.jpg")],
                                           environment: ChildProcess.environment(["OCR_WORKERS": "1", "LOG_LEVEL": "error"]))
        #expect(outcome.exitCode == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput.contains("CORNER CAFE"))
        #expect(outcome.standardOutput.contains("TOTAL GBP 8.25"))
    }

    @Test("--json prints one object per file, refusals included, and exits 1 when any file failed")
    func jsonLines() throws {
        let outcome = try ChildProcess.run([Fixtures.binary, "ocr", "--json", Fixtures.path("utility-bill.pdf"), Fixtures.path("bad/truncated.png")],
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

    @Test("a malformed variable stops start-up with one line naming it, exit code 2")
    func badConfiguration() throws {
        let outcome = try ChildProcess.run([Fixtures.binary, "ocr", Fixtures.path("receipt.jpg")],
                                           environment: ChildProcess.environment(["OCR_WORKERS": "zero"]))
        #expect(outcome.exitCode == 2)
        #expect(outcome.standardError.contains("OCR_WORKERS"))
    }

    @Test("bad usage exits 2")
    func badUsage() throws {
        let outcome = try ChildProcess.run([Fixtures.binary, "ocr"])
        #expect(outcome.exitCode == 2)
        let unknown = try ChildProcess.run([Fixtures.binary, "ocr", "--no-such-flag", "x.png"])
        #expect(unknown.exitCode == 2)
    }
}
