import CTesseract
import Foundation

/// Reads PDFs with poppler's command-line tools: the text layer where a page has one,
/// a 300 dpi grayscale rendering for Tesseract where it does not.
///
/// Why the tools and not libpoppler in-process: PDFs arrive from strangers, and poppler has a long
/// history of crashes and hangs on hostile files. A separate process can be killed at the deadline and
/// cannot take the gateway down with it; the fork costs ~5 ms against the seconds OCR takes.
/// `pdftoppm` writing PGM is fast (0.36 s for 2 A4 pages; PNG output is ~10× slower).
struct PDFReader {
    enum Page {
        case text(String)
        case image(LeptonicaImage, dpi: Int)
    }

    struct PageBox {
        var widthPoints: Double
        var heightPoints: Double
    }

    /// A page whose text layer has fewer letters and digits than this is treated as scanned.
    static let minimumTextLayerCharacters = 16
    static let renderDPI = 300

    let limits: OCRLimits
    let scratch: URL

    func readPages(path: String, deadline: ContinuousClock.Instant, _ body: (Int, Page) throws -> Void) throws {
        let boxes = try pageBoxes(path: path, deadline: deadline)
        let layer = try textLayer(path: path, deadline: deadline)
        for (index, box) in boxes.enumerated() {
            let text = index < layer.count ? layer[index] : ""
            if text.unicodeScalars.filter({ CharacterSet.alphanumerics.contains($0) }).count >= Self.minimumTextLayerCharacters {
                try body(index, .text(text))
            } else {
                let (image, dpi) = try render(path: path, page: index + 1, box: box, deadline: deadline)
                try body(index, .image(image, dpi: dpi))
            }
        }
    }

    /// Page count and sizes from `pdfinfo`, refusing documents over the page limit before any rendering.
    func pageBoxes(path: String, deadline: ContinuousClock.Instant) throws -> [PageBox] {
        let outcome = try run("pdfinfo", ["-f", "1", "-l", String(limits.maxPages), path], deadline: deadline)
        let output = String(decoding: outcome.standardOutput, as: UTF8.self)
        guard outcome.exitCode == 0 else { throw failure(outcome) }
        var pageCount = 0
        var boxes: [Int: PageBox] = [:]
        for line in output.split(separator: "\n") {
            if line.hasPrefix("Pages:") {
                pageCount = Int(line.dropFirst("Pages:".count).trimmingCharacters(in: .whitespaces)) ?? 0
            } else if line.hasPrefix("Page "), line.contains(" size:") {
                // "Page    1 size:  612 x 792 pts (letter)"
                let words = line.split(separator: " ")
                guard words.count >= 6, let number = Int(words[1]),
                      let width = Double(words[3]), let height = Double(words[5]) else { continue }
                boxes[number] = PageBox(widthPoints: width, heightPoints: height)
            }
        }
        guard pageCount > 0 else { throw OCRError.corrupt(format: .pdf, reason: "no pages") }
        guard pageCount <= limits.maxPages else { throw OCRError.tooManyPages(pages: pageCount, limit: limits.maxPages) }
        return (1...pageCount).map { boxes[$0] ?? PageBox(widthPoints: 612, heightPoints: 792) }
    }

    /// One string per page: `pdftotext` separates pages with form feeds.
    func textLayer(path: String, deadline: ContinuousClock.Instant) throws -> [String] {
        let outcome = try run("pdftotext", ["-enc", "UTF-8", "-q", path, "-"], deadline: deadline)
        guard outcome.exitCode == 0 else { throw failure(outcome) }
        return String(decoding: outcome.standardOutput, as: UTF8.self)
            .split(separator: "\u{0C}", omittingEmptySubsequences: false)
            .map(String.init)
    }

    func render(path: String, page: Int, box: PageBox, deadline: ContinuousClock.Instant) throws -> (LeptonicaImage, Int) {
        // Lower the resolution for oversized pages rather than refuse them, down to 72 dpi.
        let squareInches = max(box.widthPoints / 72, 0.01) * max(box.heightPoints / 72, 0.01)
        let fitting = Int((Double(limits.maxPixels) / squareInches).squareRoot())
        let dpi = min(Self.renderDPI, fitting)
        guard dpi >= 72 else {
            throw OCRError.imageTooLarge(width: Int(box.widthPoints / 72 * 300), height: Int(box.heightPoints / 72 * 300),
                                         limitPixels: limits.maxPixels)
        }
        let root = scratch.appendingPathComponent("page-\(UUID().uuidString)").path
        defer { unlink(root + ".pgm") }
        let outcome = try run("pdftoppm", ["-r", String(dpi), "-gray", "-f", String(page), "-l", String(page), "-singlefile", "-q", path, root],
                              deadline: deadline)
        guard outcome.exitCode == 0 else { throw failure(outcome) }
        guard let image = LeptonicaImage(taking: pixRead(root + ".pgm")) else {
            throw OCRError.corrupt(format: .pdf, reason: "page \(page) could not be rendered")
        }
        pixSetResolution(image.pointer, Int32(dpi), Int32(dpi))
        return (image, dpi)
    }

    private func run(_ tool: String, _ arguments: [String], deadline: ContinuousClock.Instant) throws -> ToolProcess.Outcome {
        do {
            return try ToolProcess.run(tool, arguments, in: scratch, deadline: deadline)
        } catch .notFound(let name) {
            throw OCRError.engineUnavailable(reason: "\(name) is not installed (Debian package poppler-utils)")
        } catch .spawnFailed(let name, let code) {
            throw OCRError.pdfToolFailed(tool: name, reason: "could not start (error \(code))")
        } catch .timedOut {
            throw OCRError.timedOut(seconds: limits.timeoutSeconds)
        }
    }

    private func failure(_ outcome: ToolProcess.Outcome) -> OCRError {
        let message = outcome.standardError
        if message.contains("Incorrect password") { return .encryptedPDF }
        let firstLine = message.split(separator: "\n").first.map(String.init) ?? "exit code \(outcome.exitCode)"
        return .corrupt(format: .pdf, reason: firstLine.prefix(200).trimmingCharacters(in: .whitespaces))
    }
}
