import ArgumentParser
import CurlHTTP
import Foundation
import Logging
import OCR
import Plugins
import Storage
import TestSupport

/// What the LLM analysers cost on this side of the wire: preparing page images (against the obvious
/// alternative, uploading the original file), the client's own time per call against an instant API
/// double, and — when `scripts/llama-server` has built it — a real local model server.
struct LLMBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "llm", abstract: "Page-image preparation, analyser overhead per call, and a real llama-server.")

    @Option(help: "Rounds per page-image measurement.")
    var rounds = 5

    @Option(help: "Analyse calls against the Anthropic double.")
    var calls = 200

    @Option(help: "Calls in flight against the double.")
    var concurrency = 4

    @Flag(help: "Skip the llama-server measurement even when LLAMA_SERVER_BINARY and SMOLLM2_GGUF are set.")
    var noLlama = false

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func run() async throws {
        let fixtures = Self.root.appendingPathComponent("fixtures")
        try pageImages(fixtures)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("llm-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let blobs = try BlobStore(dataDirectory: scratch)
        let input = try await Self.input("receipt.jpg", format: .jpeg, fixtures: fixtures, blobs: blobs)
        try await overhead(input)
        if !noLlama, let installation = LlamaServer.installation {
            try await llama(installation, input: try await Self.input("invoice.png", format: .png, fixtures: fixtures, blobs: blobs))
        } else {
            print("\nllama-server: skipped (run scripts/llama-server and export what it prints)")
        }
    }

    static func input(_ name: String, format: DocumentFormat, fixtures: URL, blobs: BlobStore) async throws -> AnalysisInput {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        let document = try await DocumentIntake(blobs: blobs).take(data: data, displayName: name)
        let text = try String(contentsOf: fixtures.appendingPathComponent("ground-truth/\(name).txt"), encoding: .utf8)
        let page = OCRPage(index: 0, text: text, confidence: 90, source: .ocr, width: 0, height: 0, milliseconds: 0)
        return AnalysisInput(text: text, ocr: OCRResult(format: format, pages: [page], timings: OCRTimings()), document: document,
                             documentPath: blobs.absolutePath(document.blobPath))
    }

    func pageImages(_ fixtures: URL) throws {
        print("Page images for the analysers (long edge ≤ 1568 px, JPEG q85) vs uploading the original file; \(rounds) rounds, median")
        print("  file                               original      sent   ratio  pages  ms/document  est. tokens  sent as")
        let encoder = PageImageEncoder()
        var totalOriginal = 0, totalSent = 0
        var totalMilliseconds = 0.0
        var paths = try FileManager.default.contentsOfDirectory(atPath: fixtures.path).sorted()
            .filter { ["jpg", "png", "tif"].contains(($0 as NSString).pathExtension) }
            .map { fixtures.appendingPathComponent($0).path }
        // The fixtures are small clean renders; a phone photo or a 400 dpi scan is what people really send.
        let scan = FileManager.default.temporaryDirectory.appendingPathComponent("llm-bench-scan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: scan.path + ".jpg") }
        let rendered = try ChildProcess.run(["pdftoppm", "-jpeg", "-jpegopt", "quality=92", "-r", "400", "-f", "1", "-l", "1", "-singlefile",
                                             fixtures.appendingPathComponent("utility-bill.pdf").path, scan.path])
        if rendered.exitCode == 0 { paths.append(scan.path + ".jpg") }
        let names = paths
        for path in paths {
            let name = path.hasPrefix(scan.path) ? "utility-bill at 400 dpi (JPEG)" : (path as NSString).lastPathComponent
            let original = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
            var times: [Double] = []
            var pages: [PageImage] = []
            for _ in 0..<rounds {
                let started = ContinuousClock.now
                pages = try encoder.pages(path: path)
                times.append((ContinuousClock.now - started).milliseconds)
            }
            let sent = pages.reduce(0) { $0 + $1.data.count }
            let median = times.sorted()[times.count / 2]
            // Anthropic's estimate: tokens ≈ width × height / 750 after its own downscaling to ≤ 1568 px.
            let tokens = pages.reduce(0) { $0 + $1.width * $1.height / 750 }
            totalOriginal += original
            totalSent += sent
            totalMilliseconds += median
            print("  " + name.padding(toLength: 32, withPad: " ", startingAt: 0) + String(format: " %7.0f kB %7.0f kB  %5.2f×  %5d  %10.1f  %8d  %@",
                         Double(original) / 1000, Double(sent) / 1000, Double(original) / Double(max(1, sent)), pages.count, median, tokens,
                         Set(pages.map(\.mediaType)).sorted().joined(separator: "+") as NSString))
        }
        print(String(format: "  all %d files: %.0f kB → %.0f kB (%.2f× less to upload), %.1f ms of preparation per document on average",
                     names.count, Double(totalOriginal) / 1000, Double(totalSent) / 1000, Double(totalOriginal) / Double(max(1, totalSent)),
                     totalMilliseconds / Double(max(1, names.count))))
    }

    func overhead(_ input: AnalysisInput) async throws {
        let fake = try await FakeAnthropic.start()
        let http = HTTPClient()
        defer { http.shutdown() }
        let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let endpoint = LLMEndpoint(baseURL: fake.baseURL, apiKey: APIKey(fake.apiKey), model: fake.model)
        print("\nClaude analyser against an instant Anthropic double on loopback: \(calls) analyses of receipt.jpg, \(concurrency) in flight")
        for (label, send) in [("OCR text + page image", true), ("OCR text only", false)] {
            var options = LLMOptions()
            options.sendDocument = send
            let analyzer = ClaudeAnalyzer(http: http, endpoint: endpoint, options: options, logger: quiet)
            _ = try await analyzer.analyze(input)
            let started = ContinuousClock.now
            let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var times: [Double] = []
                        for _ in stride(from: worker, to: calls, by: concurrency) {
                            let callStarted = ContinuousClock.now
                            _ = try await analyzer.analyze(input)
                            times.append((ContinuousClock.now - callStarted).milliseconds)
                        }
                        return times
                    }
                }
                var all: [Double] = []
                for try await times in group { all += times }
                return all.sorted()
            }
            let seconds = (ContinuousClock.now - started).seconds
            print("  " + label.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: " %7.1f analyses/s, per call p50 %.2f ms, p99 %.2f ms (request %d kB)",
                         Double(latencies.count) / seconds, latencies[latencies.count / 2], latencies[min(latencies.count - 1, latencies.count * 99 / 100)],
                         (fake.requests.last?.body.count ?? 0) / 1000))
        }
        await fake.stop()
    }

    func llama(_ installation: (binary: String, model: String), input: AnalysisInput) async throws {
        let started = ContinuousClock.now
        let server = try await LlamaServer.start(binary: installation.binary, modelPath: installation.model)
        defer { server.stop() }
        print(String(format: "\nllama-server (SmolLM2-135M, 2 threads) ready in %.1f s; 3 analyses of invoice.png (text only, 400 output tokens at most)",
                     (ContinuousClock.now - started).seconds))
        let http = HTTPClient()
        defer { http.shutdown() }
        var options = LLMOptions()
        options.sendDocument = false
        let analyzer = OpenAIAnalyzer(http: http, endpoint: LLMEndpoint(baseURL: server.apiBaseURL, apiKey: APIKey(server.apiKey), model: server.model,
                                                                        timeout: .seconds(300), maxOutputTokens: 400),
                                      options: options, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        for round in 1...3 {
            let callStarted = ContinuousClock.now
            var outcome: String
            var usage = StepUsage()
            do {
                let (analysis, used) = try await analyzer.analyze(input)
                usage = used
                outcome = "valid analysis, type \(analysis.documentType)"
            } catch let error as PluginError {
                usage = error.usage
                outcome = error.message
            }
            let seconds = (ContinuousClock.now - callStarted).seconds
            print(String(format: "  %d: %.1f s, %d prompt + %d output tokens (%.0f tokens/s overall): %@", round, seconds, usage.inputTokens, usage.outputTokens,
                         Double(usage.inputTokens + usage.outputTokens) / seconds, outcome as NSString))
        }
    }
}
