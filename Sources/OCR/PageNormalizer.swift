import CTesseract
import Foundation

/// Prepares a decoded page for Tesseract the way a careful person would before scanning it again:
/// grayscale, upright (EXIF; 90°/180°/270° turns come from Tesseract's OSD, see `DocumentReader`),
/// straight (deskew), readable contrast,
/// and text large enough (upscaling small print). The plain CLI does none of this, which is why it
/// answers "Empty page!!" for a phone photo taken at a slight tilt.
struct PageNormalizer {
    /// Below this median glyph height (pixels) text is upscaled; Tesseract reads best at ~20–30 px.
    static let smallTextHeight = 14.0
    /// The same for a picture (a phone photo: shading, soft edges): its small text is blurred, and enlarging it
    /// adds no detail Tesseract lacks — photos with 10–13 px text read better as taken (`wr_2c6512fe` 44 → 67 %,
    /// `wr_845be0dd` 38 → 54 %), while sharp print that small gains from it (receipt scans `sroie_055` 79 → 85 %).
    static let smallPictureTextHeight = 10.0
    static let targetTextHeight = 26.0
    static let maxUpscale = 4.0
    static let maxUpscaledPixels = 16_000_000.0
    /// A histogram spread (1st to 99th percentile) under this is stretched to the full range.
    static let lowContrastSpread = 110
    /// Darkest pixels (0.2nd percentile) above this: the ink itself is faint, and stretching helps.
    static let faintestInk = 96

    var maxPixels: Int

    func normalize(_ input: LeptonicaImage, exifOrientation: Int?, corrections: inout PageCorrections) -> LeptonicaImage {
        var page = grayscale(input)

        if let tag = exifOrientation { page = upright(page, exifTag: tag, corrections: &corrections) }

        // Find the document before judging it: the paper on a darker surround (a table, a hand, the scanner's
        // open lid), then the text on it (a small receipt on a large blank scan).
        var origin = (x: 0, y: 0)
        if let paper = PaperRegion.find(in: page), let cropped = clip(page, to: paper) {
            page = cropped
            origin = (paper.x, paper.y)
            corrections.crop = [paper.x, paper.y, paper.width, paper.height]
        }
        // The binary page and its glyphs are measured once and again only after the page changed. A high-resolution
        // scan is measured on a reduced copy (see `analysisReduction`), decided once for the page.
        let reduction = Self.analysisReduction(width: page.width, height: page.height)
        var (binary, glyphs) = measure(page, reduction: reduction)
        if let found = glyphs, let region = TextRegion.crop(glyphs: found, width: page.width, height: page.height),
           let cropped = clip(page, to: region) {
            page = cropped
            corrections.crop = [origin.x + region.x, origin.y + region.y, region.width, region.height]
            (binary, glyphs) = (nil, nil)
        }

        if let stretched = stretchContrast(page) {
            page = stretched
            corrections.contrastStretched = true
            (binary, glyphs) = (nil, nil)
        }

        guard let binary = binary ?? binarize(page) else { return page }
        if let straight = deskew(page, binary: binary, corrections: &corrections) {
            page = straight
        }

        // Screened table cells, found on the straight page (they are rectangles), printed again as black on white.
        if let (cleaned, cells) = ScreenedCells.clean(page) {
            page = cleaned
            corrections.screenedCells = cells
        }

        // Measured on the page before deskewing: a turn of a few degrees leaves glyph heights and columns as they are.
        let measured = glyphs ?? (reduction > 1 ? measure(page, reduction: reduction).glyphs : nil) ?? TextRegion.glyphs(in: binary)
        corrections.columns = TextRegion.hasColumnGap(measured) ? 2 : 1
        let height = TextRegion.medianHeight(measured)
        corrections.textHeight = height
        if let height, height < Self.smallPictureTextHeight || (height < Self.smallTextHeight && page.isPrintOnPaper),
           let larger = upscale(page, textHeight: height, corrections: &corrections) {
            page = larger
        }
        return page
    }

    /// Pages longer than this (a 600-dpi A4 scan is 7016 px) are measured on a reduced copy.
    static let largePageSide = 4000
    /// The reduced copy's longer side: about a 200-dpi A4 page.
    static let analysisSide = 2000.0

    /// How much smaller than the page its glyphs are measured: 1 for ordinary pages. At 600 dpi, dot-matrix and worn
    /// thermal print binarise into separate dots a few pixels across, and paper speckle into specks of the same
    /// size: counted as glyphs, they made the text look 5 px tall (upscaled, and cropped to speckle). Averaged down to
    /// ~200 dpi, the dots of a letter merge into strokes and the specks fade, as they do for a reader at arm's length.
    static func analysisReduction(width: Int, height: Int) -> Double {
        let longer = Double(max(width, height))
        return longer > Double(largePageSide) ? longer / analysisSide : 1
    }

    /// The page's glyphs, in its own coordinates. At full size the binary page they were found on comes too (deskew
    /// reuses it); on a copy `reduction` times smaller only the glyphs, scaled back.
    private func measure(_ page: LeptonicaImage, reduction: Double) -> (binary: LeptonicaImage?, glyphs: [OCRBox]?) {
        guard reduction > 1 else {
            let binary = binarize(page)
            return (binary, binary.map(TextRegion.glyphs(in:)))
        }
        let factor = Float(1 / reduction)
        guard let small = page.transformed({ pixScaleAreaMap($0, factor, factor) }), let binary = binarize(small) else { return (nil, nil) }
        return (nil, TextRegion.glyphs(in: binary).map {
            OCRBox(x: Int(Double($0.x) * reduction), y: Int(Double($0.y) * reduction),
                   width: Int((Double($0.width) * reduction).rounded()), height: Int((Double($0.height) * reduction).rounded()))
        })
    }

    /// The page as the camera held it, from the JPEG's EXIF orientation tag.
    private func upright(_ page: LeptonicaImage, exifTag tag: Int, corrections: inout PageCorrections) -> LeptonicaImage {
        var page = page
        let fix = ExifOrientation.correction(for: tag)
        if fix.mirror, let flipped = page.transformed({ pixFlipLR(nil, $0) }) {
            page = flipped
            corrections.mirrored = true
        }
        if fix.quarterTurns != 0, let turned = page.transformed({ pixRotateOrth($0, Int32(fix.quarterTurns)) }) {
            page = turned
            corrections.quarterTurns = fix.quarterTurns
        }
        return page
    }

    /// Small print brought to the size Tesseract reads best, or nil when it would not gain enough or grow too large.
    /// Upscaling never makes a page larger than `maxUpscaledPixels`: past that, reading time grows and
    /// the text is rarely small (a page that large whose "glyphs" are tiny is speckle or dot matrix).
    private func upscale(_ page: LeptonicaImage, textHeight height: Double, corrections: inout PageCorrections) -> LeptonicaImage? {
        let room = (Self.maxUpscaledPixels / (Double(page.width) * Double(page.height))).squareRoot()
        let scale = min(Self.maxUpscale, Self.targetTextHeight / max(height, 1), room)
        let pixels = Double(page.width) * Double(page.height) * scale * scale
        guard scale >= 1.2, pixels <= Double(maxPixels),
              let larger = page.transformed({ pixScaleGrayLI($0, Float(scale), Float(scale)) }) else { return nil }
        corrections.scale = scale
        corrections.textHeight = height * scale
        return larger
    }

    private func clip(_ page: LeptonicaImage, to region: OCRBox) -> LeptonicaImage? {
        guard let box = boxCreate(Int32(region.x), Int32(region.y), Int32(region.width), Int32(region.height)) else { return nil }
        defer {
            var owned: UnsafeMutablePointer<BOX>? = box
            boxDestroy(&owned)
        }
        return page.transformed { pixClipRectangle($0, box, nil) }
    }

    /// 8 bits per pixel, no colour map, transparency composited onto white.
    private func grayscale(_ image: LeptonicaImage) -> LeptonicaImage {
        var current = image
        if current.depth == 32, current.samplesPerPixel == 4, let flat = current.transformed({ pixAlphaBlendUniform($0, 0xFFFF_FF00) }) {
            current = flat
        }
        if current.depth == 8, pixGetColormap(current.pointer) == nil { return current }
        return current.transformed { pixConvertTo8($0, 0) } ?? current
    }

    /// Maps the 1st..99th percentile of a washed-out page onto 0...255.
    private func stretchContrast(_ page: LeptonicaImage) -> LeptonicaImage? {
        guard let counts = page.grayHistogram() else { return nil }
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        func percentile(_ fraction: Double) -> Int {
            var seen = 0
            for (value, count) in counts.enumerated() {
                seen += count
                if Double(seen) >= fraction * Double(total) { return value }
            }
            return 255
        }
        // Only a washed-out page: one with real ink (its darkest pixels near black) is left alone, however white
        // the rest — a 99 % blank scan's 1st..99th percentiles are paper, and stretching them turns speckle into text.
        guard percentile(0.002) > Self.faintestInk else { return nil }
        let low = percentile(0.01), high = percentile(0.99)
        guard high - low < Self.lowContrastSpread, high - low >= 8 else { return nil }
        return page.transformed { pixGammaTRC(nil, $0, 1.0, Int32(low), Int32(high)) }
    }

    /// Global Otsu threshold after flattening the background, so shadows on photos do not become text.
    private func binarize(_ page: LeptonicaImage) -> LeptonicaImage? {
        guard page.width >= 16, page.height >= 16 else { return nil }
        let flattened = page.transformed { pixBackgroundNormSimple($0, nil, nil) } ?? page
        var binary: UnsafeMutablePointer<Pix>?
        guard pixOtsuAdaptiveThreshold(flattened.pointer, Int32(page.width), Int32(page.height), 0, 0, 0, nil, &binary) == 0 else { return nil }
        return LeptonicaImage(taking: binary)
    }

    /// The page with dark strokes one pixel wider on each side (a 3×3 minimum filter): the dots of dot-matrix
    /// print join into strokes, and broken thermal print closes.
    func thicken(_ page: LeptonicaImage) -> LeptonicaImage? {
        page.depth == 8 ? page.transformed { pixErodeGray($0, 3, 3) } : nil
    }

    /// The page with each pixel the mean of its 3×3 neighbourhood: the ragged, dithered edges of a fax-like scan or
    /// a screened print become smooth strokes again before Tesseract thresholds them.
    func smooth(_ page: LeptonicaImage) -> LeptonicaImage? {
        page.depth == 8 ? page.transformed { pixBlockconvGray($0, nil, 1, 1) } : nil
    }

    /// The page at half its size, each pixel the mean of four.
    func halve(_ page: LeptonicaImage) -> LeptonicaImage? {
        page.depth == 8 ? page.transformed { pixScaleAreaMap2($0) } : nil
    }

    /// Turns a page by clockwise quarter turns (after orientation detection) and straightens it again:
    /// a sideways photo's tilt can only be measured once its lines run across.
    func turn(_ page: LeptonicaImage, quarterTurns: Int, corrections: inout PageCorrections) -> LeptonicaImage? {
        guard let turned = page.transformed({ pixRotateOrth($0, Int32(quarterTurns)) }) else { return nil }
        corrections.quarterTurns = (corrections.quarterTurns + quarterTurns) % 4
        guard let binary = binarize(turned) else { return turned }
        return deskew(turned, binary: binary, corrections: &corrections) ?? turned
    }

    /// Leptonica's sweep-and-search skew finder (±7°) on the binarised page; rotation brings in white. Turns under
    /// 0.3° are left alone: a line drifts less than a pixel in 190, which Tesseract's line finding follows, while
    /// rotating resamples every glyph (receipts `sroie_593` 73 → 83 %, `sroie_480` 89 → 92 %; forms +0.5 points).
    private func deskew(_ page: LeptonicaImage, binary: LeptonicaImage, corrections: inout PageCorrections) -> LeptonicaImage? {
        var angle: Float = 0, confidence: Float = 0
        guard pixFindSkew(binary.pointer, &angle, &confidence) == 0, confidence >= 3, abs(angle) >= 0.3,
              let straight = page.transformed({ pixRotate($0, angle * .pi / 180, Int32(L_ROTATE_AREA_MAP), Int32(L_BRING_IN_WHITE), 0, 0) })
        else { return nil }
        corrections.deskewDegrees += Double(angle)
        return straight
    }
}
