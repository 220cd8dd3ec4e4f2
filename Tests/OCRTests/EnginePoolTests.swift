import Foundation
import OCR
import Testing

@Suite("Engine pool")
struct EnginePoolTests {
    static let documents = [
        "invoice.png", "receipt.jpg", "letter.png", "contract-2pages.tif",
        "statement-scanned.pdf", "delivery-photo-tilted.jpg", "receipt-exif-rotated.jpg", "notice-small-text.png",
    ]

    @Test("8 concurrent recognitions on a 2-engine pool all complete and match the sequential results")
    func concurrentMatchesSequential() async throws {
        try await Fixtures.withPool(OCRConfiguration(workers: 2)) { pool in
            var sequential: [String: String] = [:]
            for name in Self.documents {
                sequential[name] = try await pool.recognize(.file(Fixtures.path(name))).text
            }
            let concurrent = try await withThrowingTaskGroup(of: (String, String).self) { group in
                for name in Self.documents {
                    group.addTask {
                        let text = try await pool.recognize(.file(Fixtures.path(name))).text
                        return (name, text)
                    }
                }
                var texts: [String: String] = [:]
                for try await (name, text) in group { texts[name] = text }
                return texts
            }
            #expect(concurrent.count == Self.documents.count)
            for name in Self.documents {
                #expect(concurrent[name] == sequential[name], "\(name) differs when read concurrently")
            }
        }
    }

    @Test("timings account for queueing, preparation and recognition")
    func timings() async throws {
        try await Fixtures.withPool { pool in
            let result = try await pool.recognize(.file(Fixtures.path("receipt.jpg")))
            #expect(result.timings.recognizeMilliseconds > 0)
            #expect(result.timings.totalMilliseconds >= result.timings.recognizeMilliseconds + result.timings.prepareMilliseconds - 0.5)
            #expect(result.pages[0].milliseconds > 0)
            #expect(result.confidence > 80)
        }
    }

    @Test("bytes in memory read the same as the file, PDFs included")
    func dataInput() async throws {
        try await Fixtures.withPool { pool in
            for name in ["receipt.jpg", "utility-bill.pdf", "statement-scanned.pdf"] {
                let fromFile = try await pool.recognize(.file(Fixtures.path(name)))
                let fromData = try await pool.recognize(.data(try Fixtures.data(name)))
                #expect(fromFile.text == fromData.text)
                #expect(fromFile.format == fromData.format)
            }
        }
    }

    @Test("a cancelled caller's queued document is dropped and the others complete")
    func cancellation() async throws {
        try await Fixtures.withPool { pool in
            // One engine busy with a long document; the second caller waits in the queue and is cancelled there.
            // The long one reaches the engine first (on a loaded machine a task may start late).
            async let busy = pool.recognize(.file(Fixtures.path("statement-scanned.pdf")))
            for _ in 0..<1000 where pool.busyEngines == 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(pool.busyEngines == 1)
            let waiting = Task { try await pool.recognize(.file(Fixtures.path("invoice.png"))) }
            for _ in 0..<200 where pool.queueDepth == 0 { try await Task.sleep(for: .milliseconds(10)) }
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            #expect(try await busy.text.contains("First Harbor Bank"))
            #expect(pool.queueDepth == 0)
        }
    }

    @Test("after shutdown the pool refuses work with a clear error")
    func shutdown() async throws {
        let pool = try await OCREnginePool(configuration: OCRConfiguration(workers: 1), logger: Fixtures.quiet)
        await pool.shutdown()
        await #expect(throws: OCRError.shutDown) { try await pool.recognize(.file(Fixtures.path("receipt.jpg"))) }
    }

    @Test("missing language data fails start-up with a message naming the fix")
    func missingLanguage() async throws {
        do {
            _ = try await OCREnginePool(configuration: OCRConfiguration(languages: "zzz", workers: 1), logger: Fixtures.quiet)
            Issue.record("an engine started without language data")
        } catch let error as OCRError {
            #expect(error.code == "engine_unavailable")
            #expect("\(error)".contains("zzz"))
        }
    }
}
