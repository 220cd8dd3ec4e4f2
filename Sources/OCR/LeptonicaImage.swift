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

    /// Runs a Leptonica transform that returns a new reference (or a clone).
    func transformed(_ body: (UnsafeMutablePointer<Pix>) -> UnsafeMutablePointer<Pix>?) -> LeptonicaImage? {
        LeptonicaImage(taking: body(pointer))
    }
}
