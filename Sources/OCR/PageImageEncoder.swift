import CTesseract
import Foundation

/// One page as an analyser receives it.
public struct PageImage: Sendable, Equatable {
    public var data: Data
    /// `image/jpeg`, `image/png`, `image/gif` or `image/webp`: what both LLM APIs take.
    public var mediaType: String
    public var width: Int
    public var height: Int

    public init(data: Data, mediaType: String, width: Int, height: Int) {
        self.data = data
        self.mediaType = mediaType
        self.width = width
        self.height = height
    }
}

/// Page images for analysers that look at the document (Claude, OpenAI). A file the APIs take as it is
/// (JPEG, PNG, GIF, WebP; one page, small enough, upright) goes unchanged: re-encoding would only lose
/// detail. Anything else is decoded in colour, turned the way OCR found it upright, shrunk so its long edge
/// fits `maxEdge`, and encoded as JPEG — or PNG when that is smaller (clean scans, grey and black-and-white
/// pages). Blocking work: call it off the concurrency pool.
public struct PageImageEncoder: Sendable {
    /// Claude scales anything larger down to about 1568 px on the long edge, and OpenAI's high detail to
    /// 2048; sending more only costs upload time.
    public var maxEdge: Int
    public var quality: Int
    public var maxPages: Int
    public var limits: OCRLimits

    /// Leptonica prints to stderr (e.g. while counting a TIFF's pages); errors reach us as return values.
    static let silenceLeptonica: Void = { _ = setMsgSeverity(Int32(L_SEVERITY_NONE)) }()

    /// Claude refuses images over 5 MB; base64 adds a third on the wire.
    public var maxPassThroughBytes = 3_750_000

    public init(maxEdge: Int = 1568, quality: Int = 85, maxPages: Int = 20, limits: OCRLimits = OCRLimits()) {
        self.maxEdge = maxEdge
        self.quality = quality
        self.maxPages = maxPages
        self.limits = limits
    }

    /// The first `maxPages` pages of a raster image file. `corrections` are the OCR result's per-page turns;
    /// pages without one are sent as stored.
    public func pages(path: String, corrections: [PageCorrections] = []) throws(OCRError) -> [PageImage] {
        _ = Self.silenceLeptonica
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
        if let original = passThrough(data, format: format, corrections: corrections) { return [original] }
        var pages: [PageImage] = []
        let decoder = ImageDecoder(limits: limits, luminanceOnly: false, targetLongEdge: maxEdge)
        do {
            try data.withUnsafeBytes { raw in
                try decoder.forEachPage(raw, format: format) { index, image in
                    guard index < maxPages else { return }
                    let correction = index < corrections.count ? corrections[index] : PageCorrections()
                    guard let page = encode(image, correction) else {
                        throw OCRError.corrupt(format: format, reason: "page \(index + 1) could not be re-encoded")
                    }
                    pages.append(page)
                }
            }
        } catch let error as OCRError {
            throw error
        } catch {
            throw .corrupt(format: format, reason: "\(error)")
        }
        return pages
    }

    /// The file itself, when an API takes it as it is.
    func passThrough(_ data: Data, format: DocumentFormat, corrections: [PageCorrections]) -> PageImage? {
        guard [.jpeg, .png, .gif, .webp].contains(format), data.count <= maxPassThroughBytes,
              corrections.allSatisfy({ $0.quarterTurns % 4 == 0 && !$0.mirrored }) else { return nil }
        var imageFormat: Int32 = 0, width: Int32 = 0, height: Int32 = 0, bps: Int32 = 0, spp: Int32 = 0, colormap: Int32 = 0
        let read = data.withUnsafeBytes { raw -> Int32 in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 1 }
            return pixReadHeaderMem(base, raw.count, &imageFormat, &width, &height, &bps, &spp, &colormap)
        }
        guard read == 0, width > 0, height > 0, max(Int(width), Int(height)) <= maxEdge else { return nil }
        return PageImage(data: data, mediaType: format.mimeType, width: Int(width), height: Int(height))
    }

    func encode(_ page: LeptonicaImage, _ correction: PageCorrections) -> PageImage? {
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
        guard let jpeg = write(image, png: false) else { return nil }
        var best = PageImage(data: jpeg, mediaType: "image/jpeg", width: image.width, height: image.height)
        // Grey pages of a clean scan compress far better losslessly; photos do not (and cost time to try).
        if image.depth == 8, let png = write(image, png: true), png.count < jpeg.count {
            best = PageImage(data: png, mediaType: "image/png", width: image.width, height: image.height)
        }
        return best
    }

    private func write(_ image: LeptonicaImage, png: Bool) -> Data? {
        var bytes: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = png ? pixWriteMemPng(&bytes, &size, image.pointer, 0) : pixWriteMemJpeg(&bytes, &size, image.pointer, Int32(quality), 0)
        guard status == 0, let bytes else { return nil }
        defer { lept_free(bytes) }
        return Data(bytes: bytes, count: size)
    }
}
