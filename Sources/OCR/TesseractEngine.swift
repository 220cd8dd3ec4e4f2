import CTesseract
import Foundation

/// One Tesseract instance. Not Sendable and not thread-safe: each lives on one engine thread,
/// is initialised once (~0.1–0.2 s) and reused for every page that thread reads.
final class TesseractEngine {
    private let handle: OpaquePointer

    init(languages: String, tessdataPath: String?, pageSegmentationMode: Int32) throws(OCRError) {
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
        TessBaseAPISetPageSegMode(handle, TessPageSegMode(UInt32(pageSegmentationMode)))
        self.handle = handle
    }

    deinit {
        TessBaseAPIEnd(handle)
        TessBaseAPIDelete(handle)
    }

    static var version: String { String(cString: TessVersion()) }

    /// Recognises one prepared page. The resolution is set explicitly: phone JPEGs claim 72 dpi,
    /// which makes Tesseract misjudge text size (CER 0.2 % → 70 % on one photo).
    /// Tesseract stops by itself at `budget` through its progress monitor.
    func recognize(_ page: LeptonicaImage, resolution: Int, budget: Duration) throws(OCRError) -> (text: String, confidence: Double) {
        TessBaseAPISetImage2(handle, page.pointer)
        TessBaseAPISetSourceResolution(handle, Int32(resolution))
        defer { TessBaseAPIClear(handle) }
        let monitor = TessMonitorCreate()
        defer { TessMonitorDelete(monitor) }
        let milliseconds = max(1, min(Int(Int32.max), Int(budget.components.seconds) * 1000 + Int(budget.components.attoseconds / 1_000_000_000_000_000)))
        TessMonitorSetDeadlineMSecs(monitor, Int32(milliseconds))
        let started = ContinuousClock.now
        let status = TessBaseAPIRecognize(handle, monitor)
        if ContinuousClock.now - started >= budget { throw .timedOut(seconds: Double(budget.components.seconds)) }
        guard status == 0, let raw = TessBaseAPIGetUTF8Text(handle) else { return ("", 0) }
        defer { TessDeleteText(raw) }
        let text = String(cString: raw)
        let confidence = text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? 0 : Double(TessBaseAPIMeanTextConf(handle))
        return (text, max(0, confidence))
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
