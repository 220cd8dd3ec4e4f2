import ArgumentParser
import Foundation
import Logging
import OCR

struct OCRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocr",
        abstract: "Print the OCR text of each file (JPEG, PNG, TIFF, WebP, BMP, GIF, PDF).",
        discussion: """
        Files are read in parallel by OCR_WORKERS engines (languages from OCR_LANGUAGES).
        Exit code 1 if any file could not be read.
        """
    )

    @Argument(help: "Files to read.", completion: .file())
    var files: [String]

    @Flag(help: "Print one JSON object per file per line: file, text, confidence, pages, ms (or file, error, code).")
    var json = false

    @Flag(help: "With --json: add a words array (page, line, text, x, y, width, height, confidence) per file.")
    var words = false

    @Flag(help: "Print Tesseract's hOCR (XHTML with a box and confidence per word) instead of the text.")
    var hocr = false

    @Option(name: .customLong("pdf"), help: ArgumentHelp("Also write each file as a searchable PDF (its pages with an invisible text layer) into this folder, as NAME.pdf.", valueName: "folder"),
            completion: .directory)
    var pdfFolder: String?

    func validate() throws {
        if words && !json { throw ValidationError("--words needs --json") }
        if hocr && json { throw ValidationError("--hocr and --json are separate outputs; choose one") }
    }

    func run() async throws {
        try LogSetup.bootstrap()
        var configuration = try OCRConfiguration.fromEnvironment()
        configuration.workers = min(configuration.workers, files.count)
        configuration.keepHOCR = hocr
        let pool = try await OCREnginePool(configuration: configuration, logger: Logger(label: "ocr"))

        // Everything is queued at once; results are printed in argument order as they complete.
        let results = await withTaskGroup(of: (Int, Result<OCRResult, Error>).self) { group in
            for (index, file) in files.enumerated() {
                group.addTask {
                    let result: Result<OCRResult, Error>
                    do {
                        result = .success(try await pool.recognize(.file(file), searchablePDF: pdfFolder != nil))
                    } catch {
                        result = .failure(error)
                    }
                    return (index, result)
                }
            }
            // Built in steps on purpose: `return (index, .success(try await …))` inside do/catch was
            // miscompiled by Swift 6.3.1 in release builds (garbage index).
            var ordered = [Result<OCRResult, Error>?](repeating: nil, count: files.count)
            for await (index, result) in group {
                ordered[index] = result
            }
            return ordered.compactMap { $0 }
        }
        await pool.shutdown()

        if let pdfFolder { try FileManager.default.createDirectory(atPath: pdfFolder, withIntermediateDirectories: true) }
        var failed = 0
        for (file, result) in zip(files, results) {
            switch result {
            case .success(let ocr):
                if let pdfFolder { try writePDF(ocr, of: file, into: pdfFolder) }
                if json {
                    printJSON(OCRLine(file: file, text: ocr.text, confidence: (ocr.confidence * 10).rounded() / 10,
                                      pages: ocr.pages.count, ms: Int(ocr.timings.totalMilliseconds.rounded()),
                                      words: words ? WordLine.all(in: ocr) : nil))
                } else if hocr {
                    if files.count > 1 { print("==> \(file) <==") }
                    print(ocr.hocrDocument ?? "", terminator: "")
                } else {
                    if files.count > 1 { print("==> \(file) <==") }
                    print(ocr.text)
                    if files.count > 1 { print() }
                }
            case .failure(let error):
                failed += 1
                let code = (error as? OCRError)?.code ?? "failed"
                if json {
                    printJSON(OCRFailureLine(file: file, error: "\(error)", code: code))
                } else {
                    FileHandle.standardError.write(Data("botgateway: \(file): \(error)\n".utf8))
                }
            }
        }
        if failed > 0 { throw WorkFailed() }
    }

    /// NAME.pdf for NAME.jpg; a PDF whose pages carry their own text has none to write, which is said on stderr.
    private func writePDF(_ ocr: OCRResult, of file: String, into folder: String) throws {
        let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent + ".pdf"
        guard let pdf = ocr.searchablePDF else {
            FileHandle.standardError.write(Data("botgateway: \(file): no searchable PDF written (\(ocr.format == .pdf ? "the PDF has its own text" : "the PDF renderer failed"))\n".utf8))
            return
        }
        try pdf.write(to: URL(fileURLWithPath: folder).appendingPathComponent(name), options: .atomic)
    }

    private func printJSON<Line: Encodable>(_ line: Line) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(line) { print(String(decoding: data, as: UTF8.self)) }
    }
}

private struct OCRLine: Encodable {
    var file: String
    var text: String
    var confidence: Double
    var pages: Int
    var ms: Int
    var words: [WordLine]?
}

/// One recognised word of `ocr --json --words`: its page and line (0-based), text, box in the page as read,
/// and Tesseract's confidence.
private struct WordLine: Encodable {
    var page: Int
    var line: Int
    var text: String
    var x: Int
    var y: Int
    var width: Int
    var height: Int
    var confidence: Double

    static func all(in result: OCRResult) -> [WordLine] {
        result.pages.flatMap { page in
            (page.lines ?? []).enumerated().flatMap { number, line in
                line.words.map { word in
                    WordLine(page: page.index, line: number, text: word.text, x: word.box.x, y: word.box.y,
                             width: word.box.width, height: word.box.height, confidence: word.confidence)
                }
            }
        }
    }
}

private struct OCRFailureLine: Encodable {
    var file: String
    var error: String
    var code: String
}
