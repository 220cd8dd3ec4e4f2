import CTesseract
import Foundation

/// Page images for analysers that look at the document (Claude, OpenAI): each page decoded in colour,
/// turned the way OCR found it upright, shrunk so its long edge fits `maxEdge`, and encoded as JPEG.
/// Blocking work: call it off the concurrency pool.
public struct PageImageEncoder: Sendable {
    /// Claude scales anything larger down to about 1568 px on the long edge, and OpenAI's high detail to
    /// 2048; sending more only costs upload time.
    public var maxEdge: Int
    public var quality: Int
    public var maxPages: Int
    public var limits: OCRLimits

    public init(maxEdge: Int = 1568, quality: Int = 85, maxPages: Int = 20, limits: OCRLimits = OCRLimits()) {
        self.maxEdge = maxEdge
        self.quality = quality
        self.maxPages = maxPages
        self.limits = limits
    }

    /// JPEG bytes of the first `maxPages` pages of a raster image file. `corrections` are the OCR
    /// result's per-page turns; pages without one are sent as stored.
    public func jpegPages(path: String, corrections: [PageCorrections] = []) throws(OCRError) -> [Data] {
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
            guard size <= limits.maxBytes else { throw OCRError.fileTooLarge(bytes: size, limit: limits.maxBytes) }
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as OCRError {
            throw error
        } catch {
            throw .fileUnreadable(path: (path as NSString).lastPathComponent, reason: error.localizedDescription)
        }
        guard !data.isEmpty else { throw .emptyFile }
        guard let format = DocumentFormat.detect(data.prefix(64)), format != .pdf else {
            throw .unsupportedFormat(hint: DocumentFormat.describeUnrecognized(data.prefix(64)))
        }
        var pages: [Data] = []
        let decoder = ImageDecoder(limits: limits, luminanceOnly: false)
        do {
            try data.withUnsafeBytes { raw in
                try decoder.forEachPage(raw, format: format) { index, image in
                    guard index < maxPages else { return }
                    let correction = index < corrections.count ? corrections[index] : PageCorrections()
                    guard let jpeg = encode(image, correction) else {
                        throw OCRError.corrupt(format: format, reason: "page \(index + 1) could not be re-encoded")
                    }
                    pages.append(jpeg)
                }
            }
        } catch let error as OCRError {
            throw error
        } catch {
            throw .corrupt(format: format, reason: "\(error)")
        }
        return pages
    }

    func encode(_ page: LeptonicaImage, _ correction: PageCorrections) -> Data? {
        var image = page
        if pixGetColormap(image.pointer) != nil, let plain = image.transformed({ pixRemoveColormap($0, Int32(REMOVE_CMAP_BASED_ON_SRC)) }) {
            image = plain
        }
        if image.depth == 32, image.samplesPerPixel == 4, let flat = image.transformed({ pixAlphaBlendUniform($0, 0xffffff00) }) {
            image = flat
        }
        if image.depth != 8 && image.depth != 32, let grey = image.transformed({ pixConvertTo8($0, 0) }) {
            image = grey
        }
        if correction.mirrored, let flipped = image.transformed({ pixFlipLR(nil, $0) }) { image = flipped }
        if correction.quarterTurns % 4 != 0, let turned = image.transformed({ pixRotateOrth($0, Int32(correction.quarterTurns % 4)) }) {
            image = turned
        }
        let longEdge = max(image.width, image.height)
        if longEdge > maxEdge {
            let factor = Float(maxEdge) / Float(longEdge)
            guard let smaller = image.transformed({ pixScale($0, factor, factor) }) else { return nil }
            image = smaller
        }
        if image.depth == 32 { pixSetSpp(image.pointer, 3) }
        var bytes: UnsafeMutablePointer<UInt8>?
        var size = 0
        guard pixWriteMemJpeg(&bytes, &size, image.pointer, Int32(quality), 0) == 0, let bytes else { return nil }
        defer { lept_free(bytes) }
        return Data(bytes: bytes, count: size)
    }
}
