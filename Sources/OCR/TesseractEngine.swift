import CTesseract
import Foundation

/// One Tesseract instance. Not Sendable and not thread-safe: each lives on one engine thread,
/// is initialised once (~0.1–0.2 s) and reused for every page that thread reads.
final class TesseractEngine {
    private let handle: OpaquePointer
    /// The page and layout whose results the engine still holds (until the next page or `clear()`), so a searchable
    /// PDF can be rendered from the reading that was kept without reading the page again.
    private var held: (page: ObjectIdentifier, mode: Int32)?

    init(languages: String, tessdataPath: String?) throws(OCRError) {
        guard let handle = TessBaseAPICreate() else { throw .engineUnavailable(reason: "Tesseract could not be created") }
        // Tesseract's progress and warnings would otherwise go to stderr, interleaved with our logs.
        TessBaseAPISetVariable(handle, "debug_file", "/dev/null")
        let status = TessBaseAPIInit3(handle, tessdataPath, languages)
        guard status == 0 else {
            TessBaseAPIDelete(handle)
            let place = tessdataPath ?? "Tesseract's default tessdata folder"
            throw .engineUnavailable(reason: "language data '\(languages)' not found in \(place) (install tesseract-ocr-eng or set OCR_LANGUAGES/TESSDATA_PREFIX)")
        }
        TessBaseAPISetVariable(handle, "debug_file", "/dev/null")
        // The searchable PDF's JPEG pages (photos): 70 rather than Tesseract's 85 made them 29 % smaller on the
        // phone photos with no loss a reader sees (`botgateway-bench pdf`).
        TessBaseAPISetVariable(handle, "jpg_quality", "70")
        self.handle = handle
    }

    deinit {
        TessBaseAPIEnd(handle)
        TessBaseAPIDelete(handle)
    }

    static var version: String { String(cString: TessVersion()) }

    /// What one recognition of one page produced.
    struct Recognition {
        var text: String
        /// Tesseract's mean word confidence, 0–100.
        var confidence: Double
        var lines: [OCRLine]
        /// Tesseract's hOCR for the page, when asked for.
        var hocr: String?
        var mode: Int32

        var layoutName: String {
            switch mode {
            case 3: "auto"
            case 6: "block"
            case 11: "sparse"
            default: "mode \(mode)"
            }
        }

        /// Characters in words read with confidence ≥ 60: how much legible text this reading found.
        /// A layout that drops regions (auto on a photo) or shreds lines (block on columns) finds fewer.
        var confidentCharacters: Int {
            lines.reduce(0) { sum, line in
                sum + line.words.reduce(0) { $0 + ($1.confidence >= 60 ? $1.text.count : 0) }
            }
        }
    }

    /// Recognises one prepared page with one page segmentation mode. The resolution is set explicitly:
    /// phone JPEGs claim 72 dpi, which makes Tesseract misjudge text size (CER 0.2 % → 70 % on one photo).
    /// Tesseract stops by itself at `budget` through its progress monitor. The results stay in the engine until the
    /// next page or `clear()` (see `holds`).
    func recognize(_ page: LeptonicaImage, resolution: Int, mode: Int32, budget: Duration, hocrPage: Int? = nil) throws(OCRError) -> Recognition {
        held = nil
        TessBaseAPISetPageSegMode(handle, TessPageSegMode(UInt32(mode)))
        TessBaseAPISetImage2(handle, page.pointer)
        TessBaseAPISetSourceResolution(handle, Int32(resolution))
        let monitor = TessMonitorCreate()
        defer { TessMonitorDelete(monitor) }
        let milliseconds = max(1, min(Int(Int32.max), Int(budget.components.seconds) * 1000 + Int(budget.components.attoseconds / 1_000_000_000_000_000)))
        TessMonitorSetDeadlineMSecs(monitor, Int32(milliseconds))
        let started = ContinuousClock.now
        let status = TessBaseAPIRecognize(handle, monitor)
        if ContinuousClock.now - started >= budget { throw .timedOut(seconds: Double(budget.components.seconds)) }
        guard status == 0, let raw = TessBaseAPIGetUTF8Text(handle) else { return Recognition(text: "", confidence: 0, lines: [], hocr: nil, mode: mode) }
        defer { TessDeleteText(raw) }
        held = (ObjectIdentifier(page), mode)
        let text = String(cString: raw)
        let confidence = text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? 0 : Double(TessBaseAPIMeanTextConf(handle))
        var markup: String?
        if let hocrPage, let raw = TessBaseAPIGetHOCRText(handle, Int32(hocrPage)) {
            markup = String(cString: raw)
            TessDeleteText(raw)
        }
        return Recognition(text: text, confidence: max(0, confidence), lines: lines(), hocr: markup, mode: mode)
    }

    /// True when the engine still holds the results of reading `page` with `mode`.
    func holds(_ page: LeptonicaImage, mode: Int32) -> Bool {
        held.map { $0.page == ObjectIdentifier(page) && $0.mode == mode } ?? false
    }

    /// Frees the last page's image and results.
    func clear() {
        TessBaseAPIClear(handle)
        held = nil
    }

    /// Adds the page just recognised to a PDF renderer. With `bilevel` the page image is Tesseract's own black
    /// and white reading of it, which the renderer stores losslessly as G4; otherwise the grey page, as JPEG.
    /// A strip of white a tenth of an inch high goes below the page: the renderer sets each line on its baseline,
    /// and a line touching the bottom of a tightly cropped page would have it past the page's edge, where viewers
    /// and text extractors drop it. Lines keep their places, measured from the top.
    func render(into renderer: OpaquePointer, bilevel: Bool, resolution: Int) -> Bool {
        guard held != nil, let input = TessBaseAPIGetInputImage(handle) else { return false }
        var page: UnsafeMutablePointer<Pix>? = nil
        if bilevel, let thresholded = TessBaseAPIGetThresholdedImage(handle) {
            if pixGetWidth(thresholded) == pixGetWidth(input), pixGetHeight(thresholded) == pixGetHeight(input) {
                page = thresholded
            } else {
                var owned: UnsafeMutablePointer<Pix>? = thresholded
                pixDestroy(&owned)
            }
        }
        let source = page ?? input
        // White is 0 in a 1-bit image and 255 in a grey one.
        let white: UInt32 = pixGetDepth(source) == 1 ? 0 : 255
        if let bordered = pixAddBorderGeneral(source, 0, 0, 0, Int32(max(1, resolution / 10)), white) {
            pixSetResolution(bordered, pixGetXRes(input), pixGetYRes(input))
            TessBaseAPISetInputImage(handle, bordered)  // takes ownership
        }
        if page != nil { pixDestroy(&page) }
        return TessResultRendererAddImage(renderer, handle) != 0
    }

    /// The folder Tesseract loaded its language data from (where the PDF renderer finds its font).
    var dataPath: String { String(cString: TessBaseAPIGetDatapath(handle)) }

    /// The words of the last recognition, grouped by text line, in Tesseract's reading order.
    private func lines() -> [OCRLine] {
        guard let iterator = TessBaseAPIGetIterator(handle) else { return [] }
        defer { TessResultIteratorDelete(iterator) }
        let layout = TessResultIteratorGetPageIterator(iterator)
        func box(_ level: TessPageIteratorLevel) -> OCRBox? {
            var left: Int32 = 0, top: Int32 = 0, right: Int32 = 0, bottom: Int32 = 0
            guard TessPageIteratorBoundingBox(layout, level, &left, &top, &right, &bottom) != 0 else { return nil }
            return OCRBox(x: Int(left), y: Int(top), width: Int(right - left), height: Int(bottom - top))
        }
        var lines: [OCRLine] = []
        repeat {
            if lines.isEmpty || TessPageIteratorIsAtBeginningOf(layout, RIL_TEXTLINE) != 0 {
                lines.append(OCRLine(box: box(RIL_TEXTLINE) ?? OCRBox(x: 0, y: 0, width: 0, height: 0), words: []))
            }
            guard let raw = TessResultIteratorGetUTF8Text(iterator, RIL_WORD) else { continue }
            let word = String(cString: raw)
            TessDeleteText(raw)
            // Tesseract reports a blank "word" where it found a gap; the text has none there either.
            guard !word.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, let wordBox = box(RIL_WORD) else { continue }
            let confidence = Double(TessResultIteratorConfidence(iterator, RIL_WORD))
            lines[lines.count - 1].words.append(OCRWord(text: word, box: wordBox, confidence: (confidence * 10).rounded() / 10))
        } while TessResultIteratorNext(iterator, RIL_WORD) != 0
        return lines.filter { !$0.words.isEmpty }
    }
}

/// Tesseract's orientation-and-script detector, a second small engine loaded with `osd.traineddata`.
/// It costs 0.3–0.8 s a page, so `DocumentReader` asks it only about pages that read badly upright.
final class OrientationDetector {
    private let handle: OpaquePointer

    /// Nil when `osd.traineddata` is not installed (Debian package tesseract-ocr-osd): pages are then read as they come.
    init?(tessdataPath: String?) {
        guard let handle = TessBaseAPICreate() else { return nil }
        TessBaseAPISetVariable(handle, "debug_file", "/dev/null")
        guard TessBaseAPIInit2(handle, tessdataPath, "osd", OEM_TESSERACT_ONLY) == 0 else {
            TessBaseAPIDelete(handle)
            return nil
        }
        self.handle = handle
    }

    deinit {
        TessBaseAPIEnd(handle)
        TessBaseAPIDelete(handle)
    }

    /// Clockwise quarter turns that make the page upright, or nil when OSD is unsure.
    func uprightQuarterTurns(_ page: LeptonicaImage, resolution: Int, minimumConfidence: Float = 1.5) -> Int? {
        TessBaseAPISetImage2(handle, page.pointer)
        TessBaseAPISetSourceResolution(handle, Int32(resolution))
        defer { TessBaseAPIClear(handle) }
        var degrees: Int32 = 0
        var confidence: Float = 0
        // No script outputs: the header says to free the name, the implementation returns a borrowed pointer.
        guard TessBaseAPIDetectOrientationScript(handle, &degrees, &confidence, nil, nil) != 0,
              confidence >= minimumConfidence else { return nil }
        // `degrees` is how far the page is turned; 360 − degrees clockwise brings it back (270 → one turn).
        return ((360 - Int(degrees)) % 360) / 90
    }
}
