import Foundation
import OCR
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Bad input gets a typed error and costs nothing else")
struct BadInputTests {
    static let cases: [(String, String)] = [
        ("bad/empty.png", "empty_file"),
        ("bad/truncated.jpg", "corrupt"),
        ("bad/truncated.png", "corrupt"),
        ("bad/not-an-image.jpg", "unsupported_format"),
        ("bad/random.bin", "unsupported_format"),
        ("bad/corrupt.pdf", "corrupt"),
        ("bad/too-many-pages.pdf", "too_many_pages"),
        ("bad/bomb.png", "image_too_large"),
    ]

    @Test("each bad file is refused with its own error", arguments: cases)
    func refused(name: String, code: String) async throws {
        try await Fixtures.withPool { pool in
            do {
                let result = try await pool.recognize(.file(Fixtures.path(name)))
                Issue.record("\(name) was read: \(result.text.prefix(80))")
            } catch let error as OCRError {
                #expect(error.code == code, "\(name): \(error)")
                #expect(!error.isTransient)
            }
        }
    }

    @Test("a bad file between good ones leaves the good ones and the engine intact")
    func engineSurvives() async throws {
        try await Fixtures.withPool { pool in
            let before = try await pool.recognize(.file(Fixtures.path("receipt.jpg")))
            for (name, _) in Self.cases {
                _ = try? await pool.recognize(.file(Fixtures.path(name)))
            }
            let after = try await pool.recognize(.file(Fixtures.path("receipt.jpg")))
            #expect(after.text == before.text)
        }
    }

    @Test("the same refusals hold for bytes in memory")
    func inMemory() async throws {
        try await Fixtures.withPool { pool in
            await #expect(throws: OCRError.emptyFile) { try await pool.recognize(.data(Data())) }
            let bomb = try Fixtures.data("bad/bomb.png")
            await #expect(throws: OCRError.imageTooLarge(width: 50_000, height: 50_000, limitPixels: 60_000_000)) {
                try await pool.recognize(.data(bomb))
            }
            let pdf = try Fixtures.data("bad/too-many-pages.pdf")
            await #expect(throws: OCRError.tooManyPages(pages: 101, limit: 100)) { try await pool.recognize(.data(pdf)) }
        }
    }

    @Test("files over the byte limit are refused before they are read")
    func byteLimit() async throws {
        try await Fixtures.withPool(OCRConfiguration(workers: 1, limits: OCRLimits(maxBytes: 10_000))) { pool in
            await #expect(throws: OCRError.fileTooLarge(bytes: 44_458, limit: 10_000)) {
                try await pool.recognize(.file(Fixtures.path("receipt.jpg")))
            }
        }
    }

    @Test("a missing file is reported with its path")
    func missingFile() async throws {
        try await Fixtures.withPool { pool in
            do {
                _ = try await pool.recognize(.file("/nonexistent/scan.png"))
                Issue.record("a missing file was read")
            } catch let error as OCRError {
                #expect(error.code == "file_unreadable")
                #expect("\(error)".contains("/nonexistent/scan.png"))
            }
        }
    }

    /// Run in a child process so its peak RSS is the bomb's cost alone: decoding the 50,000² page would
    /// take 312 MB at 1 bit per pixel and 2.5 GB once converted to grayscale.
    @Test("the decompression bomb is refused without allocating the image")
    func bombMemory() async throws {
        let outcome = try await ChildProcess.runOffPool([Fixtures.binary, "ocr", "--json", Fixtures.path("bad/bomb.png")],
                                           environment: ChildProcess.environment(["OCR_WORKERS": "1"]), measureMemory: true)
        #expect(outcome.exitCode == 1)
        #expect(outcome.standardOutput.contains("\"code\":\"image_too_large\""))
        #expect(outcome.peakRSSKilobytes < 200_000, "peak RSS \(outcome.peakRSSKilobytes) kB")
    }
}
