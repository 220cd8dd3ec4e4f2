import CTesseract
import Foundation

/// Reads one whole document on the calling engine thread: limits, format by content, pages,
/// normalisation, recognition. Owns no threads; `OCREnginePool` gives each thread one of these.
final class DocumentReader {
    private let engine: TesseractEngine
    /// A second engine, started for the first searchable PDF: a page tried with two layouts is read the second time
    /// here, so the reading kept is still held by one of the two for the PDF renderer (not read a third time).
    private var spare: TesseractEngine?
    private let orientation: OrientationDetector?
    private let configuration: OCRConfiguration
    private let scratch: URL

    init(configuration: OCRConfiguration, scratch: URL) throws(OCRError) {
        self.configuration = configuration
        self.scratch = scratch
        self.engine = try TesseractEngine(languages: configuration.languages, tessdataPath: configuration.tessdataPath)
        self.orientation = configuration.normalize ? OrientationDetector(tessdataPath: configuration.tessdataPath) : nil
    }

    /// Below this mean confidence a page may be sideways or upside down, and OSD is consulted.
    static let orientationCheckConfidence = 60.0
    /// Below this mean confidence a page is also read with its strokes thickened.
    static let thickenCheckConfidence = 70.0
    /// Below this mean confidence a page is also read smoothed.
    static let smoothCheckConfidence = 80.0
    /// How much more confident a smoothed reading must be to be kept.
    static let smoothMargin = 1.5

    /// Reads the document; with `searchablePDF`, also writes it as a PDF with a text layer (see `SearchablePDFWriter`)
    /// when every page is an image to read. A PDF that has its own text layer, in whole or in part, gets none.
    func read(_ input: OCRInput, searchablePDF: Bool = false, queueMilliseconds: Double = 0) throws(OCRError) -> OCRResult {
        let started = ContinuousClock.now
        let deadline = started + Duration.milliseconds(Int(configuration.limits.timeoutSeconds * 1000))
        let head = try self.head(input)
        guard !head.isEmpty else { throw .emptyFile }
        guard let format = DocumentFormat.detect(head) else {
            throw .unsupportedFormat(hint: DocumentFormat.describeUnrecognized(head.prefix(64)))
        }
        // poppler reads a PDF file by path: loading it as well would cost its whole size per engine.
        let bytes = format == .pdf && input.isFile ? Data() : try load(input)

        var pages: [OCRPage] = []
        var hocrPages: [String] = []
        var recognizeTime = Duration.zero
        let pdf = searchablePDF ? SearchablePDFWriter(scratch: scratch, dataPath: engine.dataPath) : nil
        let normalizer = PageNormalizer(maxPixels: configuration.limits.maxPixels)
        do {
            try forEachPage(of: input, bytes: bytes, format: format, deadline: deadline) { index, page in
                switch page {
                case .text(let text):
                    pages.append(OCRPage(index: index, text: text, confidence: 100, source: .textLayer,
                                         width: 0, height: 0, milliseconds: 0))
                    pdf?.abandon()
                case .image(let image, let dpi, let exif):
                    let read = try readPage(image, index: index, declaredDPI: dpi, exif: exif,
                                            normalizer: normalizer, deadline: deadline, pdf: pdf)
                    pages.append(read.page)
                    recognizeTime += read.recognizeTime
                    if let hocr = read.hocr { hocrPages.append(hocr) }
                }
            }
        } catch let error as OCRError {
            throw error
        } catch {
            throw .corrupt(format: format, reason: String(describing: error))
        }

        let pdfBytes = pdf?.finish()
        let total = (ContinuousClock.now - started).milliseconds
        let recognizeMilliseconds = recognizeTime.milliseconds, pdfMilliseconds = pdf?.elapsed.milliseconds
        var result = OCRResult(format: format, pages: pages, hocr: configuration.keepHOCR ? hocrPages : nil, timings: OCRTimings(
            queueMilliseconds: queueMilliseconds,
            prepareMilliseconds: total - recognizeMilliseconds - (pdfMilliseconds ?? 0),
            recognizeMilliseconds: recognizeMilliseconds,
            totalMilliseconds: total))
        result.timings.searchablePDFMilliseconds = pdfMilliseconds
        result.searchablePDF = pdfBytes
        return result
    }

    /// A page as the document holds it: text from a PDF's text layer, or an image to read.
    private enum SourcePage {
        case text(String)
        case image(LeptonicaImage, dpi: Int, exif: Int?)
    }

    /// Calls `body` with each page in order: a PDF's pages through poppler, an image's frames through Leptonica.
    private func forEachPage(of input: OCRInput, bytes: Data, format: DocumentFormat, deadline: ContinuousClock.Instant,
                             _ body: (Int, SourcePage) throws -> Void) throws {
        let limits = configuration.limits
        if format == .pdf {
            let path = try pdfPath(for: input, bytes: bytes)
            defer { if case .data = input { unlink(path) } }
            try PDFReader(limits: limits, scratch: scratch).readPages(path: path, deadline: deadline) { index, page in
                switch page {
                case .text(let text): try body(index, .text(text))
                case .image(let image, let dpi): try body(index, .image(image, dpi: dpi, exif: nil))
                }
            }
            return
        }
        let exif = format == .jpeg ? bytes.withUnsafeBytes { ExifOrientation.tag(inJPEG: $0) } : nil
        try bytes.withUnsafeBytes { raw in
            try ImageDecoder(limits: limits).forEachPage(raw, format: format) { index, image in
                guard ContinuousClock.now < deadline else { throw OCRError.timedOut(seconds: limits.timeoutSeconds) }
                try body(index, .image(image, dpi: image.resolution, exif: exif))
            }
        }
    }

    /// One page image normalised and read; a poor reading is retried on the page turned upright when OSD
    /// says it lies sideways or upside down, keeping the better of the two.
    private func readPage(_ image: LeptonicaImage, index: Int, declaredDPI: Int, exif: Int?, normalizer: PageNormalizer,
                          deadline: ContinuousClock.Instant, pdf: SearchablePDFWriter?)
        throws(OCRError) -> (page: OCRPage, hocr: String?, recognizeTime: Duration) {
        defer {
            engine.clear()
            spare?.clear()
        }
        let limits = configuration.limits
        let pageStarted = ContinuousClock.now
        var corrections = PageCorrections()
        var prepared = configuration.normalize
            ? normalizer.normalize(image, exifOrientation: exif, corrections: &corrections)
            : image
        var dpi = Self.resolution(declared: declaredDPI, corrections: corrections)
        let recognitionStarted = ContinuousClock.now
        guard deadline - recognitionStarted > .zero else { throw .timedOut(seconds: limits.timeoutSeconds) }
        // With a PDF to write, a second reading of the page goes to the spare engine, so the reading kept is still
        // held by one of the two for the renderer.
        let engines = pdf?.isOpen == true ? (first: engine, second: try secondEngine()) : (first: engine, second: engine)
        var result: TesseractEngine.Recognition
        do {
            result = try read(prepared, index: index, resolution: dpi, deadline: deadline, columns: corrections.columns ?? 1, engines: engines)
            // Each further reading goes to the engine that does not hold the reading kept so far (the second layout
            // tried may have been kept, on the second engine), with the layout chosen; the more confident is kept.
            var idle = engines.first.holds(prepared, mode: result.mode)
                ? (first: engines.second, second: engines.first) : (first: engines.first, second: engines.second)
            func keepIfBetter(_ page: LeptonicaImage, _ pageCorrections: PageCorrections, resolution: Int, by margin: Double = 0) throws(OCRError) {
                let second = try read(page, index: index, resolution: resolution, deadline: deadline, mode: result.mode, engines: idle)
                guard second.confidence > result.confidence + margin else { return }
                (result, prepared, corrections, dpi) = (second, page, pageCorrections, resolution)
                idle = (idle.second, idle.first)
            }
            // Upright pages read well and pay nothing; a poor read may be a turned page.
            if result.confidence < Self.orientationCheckConfidence, let orientation,
               let turns = orientation.uprightQuarterTurns(prepared, resolution: dpi), turns != 0 {
                var turnedCorrections = corrections
                if let turned = normalizer.turn(prepared, quarterTurns: turns, corrections: &turnedCorrections) {
                    try keepIfBetter(turned, turnedCorrections, resolution: dpi)
                }
            }
            // Broken strokes read poorly: dot-matrix print, whose dots Tesseract takes one by one, and worn thermal
            // print. A page still poor (upright by now) is read with its strokes thickened by a pixel; thickening
            // every page would close the counters of small clean print.
            let (upright, uprightCorrections) = (prepared, corrections)
            var thickened = uprightCorrections
            thickened.thickened = true
            if result.confidence < Self.thickenCheckConfidence, let thick = normalizer.thicken(upright) {
                try keepIfBetter(thick, thickened, resolution: dpi)
            }
            // Ragged strokes read poorly too: the dithered edges of a fax-like scan or a screened print. A page still
            // below good is also read smoothed, and that reading kept only when clearly more confident: smoothing
            // softens clean small print as well, and a point of confidence is noise.
            if result.confidence < Self.smoothCheckConfidence, let smooth = normalizer.smooth(upright) {
                var smoothed = uprightCorrections
                smoothed.smoothed = true
                try keepIfBetter(smooth, smoothed, resolution: dpi, by: Self.smoothMargin)
            }
            // A large page that still reads poorly (faint dotted print on a 600-dpi scan) is read at half its size,
            // thickened: averaging merges the dots that thickening alone leaves apart.
            if result.confidence < Self.thickenCheckConfidence, max(upright.width, upright.height) > Self.halvingSide,
               let half = normalizer.halve(upright), let thick = normalizer.thicken(half) {
                var halved = thickened
                halved.scale *= 0.5
                halved.textHeight = uprightCorrections.textHeight.map { $0 / 2 }
                try keepIfBetter(thick, halved, resolution: Self.resolution(declared: declaredDPI, corrections: halved))
            }
        } catch {
            throw .timedOut(seconds: limits.timeoutSeconds)
        }
        let recognizeTime = ContinuousClock.now - recognitionStarted
        // One of the two engines holds the reading kept; should neither (an upright reading kept after the turned
        // page was read on its engine), it is read once more, which gives the same words.
        pdf?.add(prepared, resolution: dpi) { [engine, spare, prepared, result, dpi] () throws(OCRError) -> TesseractEngine in
            if let holder = [engine, spare].compactMap({ $0 }).first(where: { $0.holds(prepared, mode: result.mode) }) { return holder }
            _ = try engine.recognize(prepared, resolution: dpi, mode: result.mode, budget: deadline - ContinuousClock.now)
            return engine
        }
        let page = OCRPage(index: index, text: result.text, confidence: result.confidence, source: .ocr,
                           width: prepared.width, height: prepared.height, corrections: corrections,
                           milliseconds: (ContinuousClock.now - pageStarted).milliseconds, lines: result.lines,
                           layout: result.layoutName)
        return (page, result.hocr, recognizeTime)
    }

    /// One page read with the configured layout, or, with `.choose`, the page's own: a narrow strip of lines
    /// running across (a till receipt, scanned or photographed) as one block, which keeps each line whole where
    /// the automatic layout splits item names from prices; any other page with the automatic layout, and also as
    /// one block when the automatic reading found little legible text (forms, sparse pages), keeping the reading
    /// that found more.
    /// The first (or only) reading is done by `engines.first`, a second layout by `engines.second`.
    private func read(_ page: LeptonicaImage, index: Int, resolution: Int, deadline: ContinuousClock.Instant, columns: Int = 1,
                      mode: Int32? = nil, engines: (first: TesseractEngine, second: TesseractEngine)) throws(OCRError) -> TesseractEngine.Recognition {
        let hocrPage = configuration.keepHOCR ? index : nil
        func recognize(_ mode: Int32, on reader: TesseractEngine) throws(OCRError) -> TesseractEngine.Recognition {
            try reader.recognize(page, resolution: resolution, mode: mode, budget: deadline - ContinuousClock.now, hocrPage: hocrPage)
        }
        if let mode = mode ?? configuration.layout.fixedMode { return try recognize(mode, on: engines.first) }
        // A narrow strip of lines running across: a till receipt, read line by line.
        if columns <= 1, Double(page.height) >= Self.stripAspect * Double(page.width) { return try recognize(6, on: engines.first) }
        let auto = try recognize(3, on: engines.first)
        guard auto.confidentCharacters < Self.denseTextCharacters else { return auto }
        let block = try recognize(6, on: engines.second)
        return block.confidentCharacters > auto.confidentCharacters ? block : auto
    }

    private func secondEngine() throws(OCRError) -> TesseractEngine {
        if let spare { return spare }
        let started = try TesseractEngine(languages: configuration.languages, tessdataPath: configuration.tessdataPath)
        spare = started
        return started
    }

    /// The resolution Tesseract is told, which sets the physical text size its layout analysis assumes.
    /// A scan's own dpi is trusted when plausible (150–1200), multiplied by any upscaling. Otherwise — phone
    /// JPEGs claim 72, many PNGs 96 or nothing — the page as read is taken for 300 dpi: upscaling brings small
    /// text to the size of 300-dpi print, so the guess is not multiplied by it. (It was: a 96-dpi page of small
    /// print upscaled 3.4× was announced at 1,026 dpi, its text looked like 3-point type, and the automatic layout
    /// lost a column — recall 67 % against the CLI's 97 %; now 98 %.)
    static func resolution(declared: Int, corrections: PageCorrections) -> Int {
        (150...1200).contains(declared) ? Int(Double(declared) * corrections.scale) : 300
    }

    /// A poor page longer than this is also read at half its size.
    static let halvingSide = 3000

    /// Height to width from which a page without columns is a strip (a till receipt).
    static let stripAspect = 1.6

    /// A page with this many legible characters from the automatic layout was read well by it.
    static let denseTextCharacters = 1500

    /// The first KiB, after the size check, so an oversized upload costs one `stat` and a PDF is never read whole.
    private func head(_ input: OCRInput) throws(OCRError) -> Data {
        let limit = configuration.limits.maxBytes
        switch input {
        case .data(let data):
            guard data.count <= limit else { throw .fileTooLarge(bytes: data.count, limit: limit) }
            return data.prefix(1024)
        case .file(let path):
            var info = stat()
            guard stat(path, &info) == 0 else { throw .fileUnreadable(path: path, reason: String(cString: strerror(errno))) }
            guard info.st_mode & S_IFMT == S_IFREG else { throw .fileUnreadable(path: path, reason: "not a regular file") }
            guard Int(info.st_size) <= limit else { throw .fileTooLarge(bytes: Int(info.st_size), limit: limit) }
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw .fileUnreadable(path: path, reason: "permission denied")
            }
            defer { try? handle.close() }
            do {
                // nil at end of file: an empty file has an empty head.
                return try handle.read(upToCount: 1024) ?? Data()
            } catch {
                throw .fileUnreadable(path: path, reason: "read error")
            }
        }
    }

    private func load(_ input: OCRInput) throws(OCRError) -> Data {
        switch input {
        case .data(let data):
            return data
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .fileUnreadable(path: path, reason: "permission denied or read error")
            }
            return data
        }
    }

    private func pdfPath(for input: OCRInput, bytes: Data) throws(OCRError) -> String {
        if case .file(let path) = input { return path }
        let path = scratch.appendingPathComponent("input-\(UUID().uuidString).pdf").path
        guard FileManager.default.createFile(atPath: path, contents: bytes, attributes: [.posixPermissions: 0o600]) else {
            throw .engineUnavailable(reason: "cannot write to the scratch folder \(scratch.path)")
        }
        return path
    }
}

extension Duration {
    public var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
