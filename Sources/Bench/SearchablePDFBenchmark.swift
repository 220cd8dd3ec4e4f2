import ArgumentParser
import Foundation
import Logging
import OCR
import TestSupport

/// `botgateway-bench pdf`: what the searchable PDF costs, per set of documents (the fixtures, and each folder given
/// with --corpus): bytes per page of our PDF against the input and against `ocrmypdf` (what paperless runs, when
/// installed: Debian's ocrmypdf, one process per file, `--output-type pdf`), how its pages were stored (G4 or JPEG),
/// and the time per page the PDF adds to reading (measured inside the reader, one engine per core).
struct SearchablePDFBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pdf",
        abstract: "Searchable PDF: bytes per page vs the input and ocrmypdf, and the time per page it adds.")

    @Option(help: "A folder of documents to measure as one set (repeatable); its images and PDFs, not its truth files.")
    var corpus: [String] = []

    @Option(help: "At most this many files per set.")
    var limit = 40

    @Flag(help: "Leave ocrmypdf out even when it is installed.")
    var noOcrmypdf = false

    struct Figures {
        var files = 0, pages = 0, inputBytes = 0, pdfBytes = 0, g4Pages = 0, jpegPages = 0
        var ocrMilliseconds = 0.0, pdfMilliseconds = 0.0
        var ocrmypdfFiles = 0, ocrmypdfPages = 0, ocrmypdfBytes = 0, ocrmypdfSeconds = 0.0, ourSecondsForThose = 0.0
        var noPDF: [String] = []
        var ocrmypdfFailed: [String] = []
    }

    func run() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sets = [("fixtures", root.appendingPathComponent("fixtures").path)] + corpus.map { (URL(fileURLWithPath: $0).lastPathComponent, $0) }
        let ocrmypdf = noOcrmypdf ? nil : which("ocrmypdf")
        let workers = ProcessInfo.processInfo.activeProcessorCount
        let pool = try await OCREnginePool(configuration: OCRConfiguration(workers: workers), logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pdf-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        print("Searchable PDF: tesseract \(OCREnginePool.tesseractVersion), \(workers) engines; ocrmypdf: \(ocrmypdf.map { "\($0) (\(version($0)))" } ?? "not installed")")
        print("")
        print([pad("set", 18), pad("files", 6), pad("pages", 6), pad("input KiB/p", 12), pad("ours KiB/p", 11), pad("ocrmypdf KiB/p", 15),
               pad("G4/JPEG", 8), pad("OCR ms/p", 9), pad("+PDF ms/p", 10), pad("+PDF %", 7), "ocrmypdf s/file vs ours"].joined(separator: " "))
        for (name, folder) in sets {
            let files = documents(in: folder).prefix(limit)
            var figures = Figures()
            // Our reading, with the PDF, all files at once across the engines.
            let results = await withTaskGroup(of: (String, OCRResult?).self) { group in
                for file in files { group.addTask { (file, try? await pool.recognize(.file(file), searchablePDF: true)) } }
                var all: [String: OCRResult?] = [:]
                for await (file, result) in group { all[file] = result }
                return all
            }
            for file in files {
                guard let result = results[file] ?? nil else { continue }
                let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
                guard let pdf = result.searchablePDF else {
                    figures.noPDF.append(URL(fileURLWithPath: file).lastPathComponent)
                    continue
                }
                figures.files += 1
                figures.pages += result.pages.count
                figures.inputBytes += size
                figures.pdfBytes += pdf.count
                let text = String(decoding: pdf, as: UTF8.self)
                figures.g4Pages += text.components(separatedBy: "/CCITTFaxDecode").count - 1
                figures.jpegPages += text.components(separatedBy: "/DCTDecode").count - 1
                let pdfMilliseconds = result.timings.searchablePDFMilliseconds ?? 0
                figures.pdfMilliseconds += pdfMilliseconds
                figures.ocrMilliseconds += result.timings.totalMilliseconds - pdfMilliseconds
                if let ocrmypdf {
                    let output = scratch.appendingPathComponent("\(UUID().uuidString).pdf").path
                    let started = ContinuousClock.now
                    let outcome = try ChildProcess.run([ocrmypdf, "--quiet", "--jobs", "1", "--output-type", "pdf", "--image-dpi", "300", "-l", "eng", file, output])
                    let seconds = (ContinuousClock.now - started).seconds
                    if outcome.exitCode == 0, let bytes = try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int {
                        figures.ocrmypdfFiles += 1
                        figures.ocrmypdfPages += result.pages.count
                        figures.ocrmypdfBytes += bytes
                        figures.ocrmypdfSeconds += seconds
                        figures.ourSecondsForThose += result.timings.totalMilliseconds / 1000
                    } else {
                        figures.ocrmypdfFailed.append("\(URL(fileURLWithPath: file).lastPathComponent) (exit \(outcome.exitCode): "
                                                      + "\(outcome.standardError.split(separator: "\n").last ?? ""))")
                    }
                    unlink(output)
                }
            }
            guard figures.pages > 0 else {
                print("\(pad(name, 18)) no documents with a searchable PDF")
                continue
            }
            let pages = Double(figures.pages)
            let kib = { (bytes: Int, pages: Int) in pages > 0 ? String(format: "%.1f", Double(bytes) / 1024 / Double(pages)) : "-" }
            let ocrPerPage = figures.ocrMilliseconds / pages, pdfPerPage = figures.pdfMilliseconds / pages
            let versus = figures.ocrmypdfFiles > 0
                ? String(format: "%.2f s vs %.2f s (%.1f×)", figures.ocrmypdfSeconds / Double(figures.ocrmypdfFiles),
                         figures.ourSecondsForThose / Double(figures.ocrmypdfFiles), figures.ocrmypdfSeconds / max(figures.ourSecondsForThose, 0.001))
                : "-"
            print([pad(name, 18), pad("\(figures.files)", 6), pad("\(figures.pages)", 6), pad(kib(figures.inputBytes, figures.pages), 12),
                   pad(kib(figures.pdfBytes, figures.pages), 11), pad(kib(figures.ocrmypdfBytes, figures.ocrmypdfPages), 15),
                   pad("\(figures.g4Pages)/\(figures.jpegPages)", 8), pad(String(format: "%.0f", ocrPerPage), 9),
                   pad(String(format: "%.0f", pdfPerPage), 10), pad(String(format: "%.1f", 100 * pdfPerPage / max(ocrPerPage, 0.001)), 7),
                   versus].joined(separator: " "))
            if !figures.noPDF.isEmpty { print("  no PDF (their own text layer): \(figures.noPDF.joined(separator: ", "))") }
            if !figures.ocrmypdfFailed.isEmpty { print("  ocrmypdf failed on: \(figures.ocrmypdfFailed.joined(separator: "; "))") }
        }
        await pool.shutdown()
        print("")
        print("OCR ms/p is the reading without the PDF (engines working in parallel, so per-file times overlap); +PDF ms/p")
        print("is what writing the PDF added (page images compressed, text laid over them, a page read again when the")
        print("reading kept was not the engine's last). ocrmypdf s/file is one process per file, one after another.")
    }

    private func documents(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.sorted().filter { name in
            ["png", "jpg", "jpeg", "tif", "tiff", "pdf", "webp", "bmp", "gif"].contains((name as NSString).pathExtension.lowercased())
        }.map { (folder as NSString).appendingPathComponent($0) }
    }

    private func version(_ tool: String) -> String {
        ((try? ChildProcess.run([tool, "--version"]))?.standardOutput.split(separator: "\n").first).map(String.init) ?? "?"
    }
}
