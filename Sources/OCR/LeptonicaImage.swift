import CTesseract

/// Owns one reference to a Leptonica `PIX` and releases it exactly once.
/// Not Sendable: a page lives and dies on the engine thread that decoded it.
final class LeptonicaImage {
    let pointer: UnsafeMutablePointer<Pix>

    /// Takes ownership of a reference returned by Leptonica; nil when Leptonica failed.
    init?(taking pointer: UnsafeMutablePointer<Pix>?) {
        guard let pointer else { return nil }
        self.pointer = pointer
    }

    deinit {
        var reference: UnsafeMutablePointer<Pix>? = pointer
        pixDestroy(&reference)
    }

    var width: Int { Int(pixGetWidth(pointer)) }
    var height: Int { Int(pixGetHeight(pointer)) }
    var depth: Int { Int(pixGetDepth(pointer)) }
    var samplesPerPixel: Int { Int(pixGetSpp(pointer)) }
    var resolution: Int { Int(pixGetXRes(pointer)) }

    /// Pixels per grey level (0–255) of an 8-bit image, sampled every second pixel (every fourth above 4 MP); nil for
    /// other depths or when Leptonica fails.
    func grayHistogram() -> [Int]? {
        guard depth == 8, let histogram = pixGetGrayHistogram(pointer, width * height > 4_000_000 ? 4 : 2) else { return nil }
        defer {
            var owned: UnsafeMutablePointer<NUMA>? = histogram
            numaDestroy(&owned)
        }
        var counts = [Int](repeating: 0, count: 256)
        for value in 0..<min(256, Int(numaGetCount(histogram))) {
            var count: Int32 = 0
            numaGetIValue(histogram, Int32(value), &count)
            counts[value] = Int(count)
        }
        return counts
    }

    /// Pixels with a middle shade (grey 64–191: neither paper nor ink) beyond this share make a page a picture.
    /// Measured on the normalised pages of 16 images per corpus set: print on paper has only the grey rims of its
    /// strokes — forms 3–11 % (upscaled faxes), receipt scans 2–11 % but one at 22 %, scribe pages 1–8 % — while
    /// phone photos' shading and backgrounds give 14–95 % (one flat, well-lit photo 4 %); charts and slides with grey
    /// fills 13–39 %.
    static let pictureMidtoneShare = 0.12

    /// True for print on paper (black and white renders it faithfully: the searchable PDF stores it as G4, and its
    /// small text is sharp enough to gain from enlarging); false for a picture such as a phone photo.
    var isPrintOnPaper: Bool {
        guard let counts = grayHistogram() else { return false }
        let total = counts.reduce(0, +), middle = counts[64..<192].reduce(0, +)
        return total > 0 && Double(middle) / Double(total) <= Self.pictureMidtoneShare
    }

    /// Runs a Leptonica transform that returns a new reference (or a clone).
    func transformed(_ body: (UnsafeMutablePointer<Pix>) -> UnsafeMutablePointer<Pix>?) -> LeptonicaImage? {
        LeptonicaImage(taking: body(pointer))
    }
}
