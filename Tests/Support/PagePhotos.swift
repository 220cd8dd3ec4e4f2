import CTesseract
import Foundation

/// A document photographed in parts, as people send a long receipt or a page too tall for one shot: the image
/// cut into horizontal bands (each overlapping the next a little, as hand-held shots do), each band a JPEG of
/// its own. The album tests' "pages of one document" and the page-set benchmark's.
public enum PagePhotos {
    public static func bands(of path: String, count: Int, overlap: Double = 0.04) -> [Data] {
        guard count > 0, let image = pixRead(path) else { return [] }
        var source: UnsafeMutablePointer<Pix>? = image
        defer { pixDestroy(&source) }
        let width = pixGetWidth(image), height = pixGetHeight(image)
        let band = Double(height) / Double(count)
        let spill = band * overlap
        return (0..<count).compactMap { index -> Data? in
            let top = max(0, Int32((Double(index) * band - spill).rounded()))
            let bottom = min(height, Int32((Double(index + 1) * band + spill).rounded()))
            guard let box = boxCreate(0, top, width, bottom - top) else { return nil }
            var ownedBox: UnsafeMutablePointer<Box>? = box
            defer { boxDestroy(&ownedBox) }
            guard let clipped = pixClipRectangle(image, box, nil) else { return nil }
            var ownedClip: UnsafeMutablePointer<Pix>? = clipped
            defer { pixDestroy(&ownedClip) }
            // JPEG wants 8 or 32 bits: black-and-white and palette scans become grey first.
            guard let ready = pixConvertTo8Or32(clipped, Int32(L_CLONE), 0) else { return nil }
            var ownedReady: UnsafeMutablePointer<Pix>? = ready
            defer { pixDestroy(&ownedReady) }
            var bytes: UnsafeMutablePointer<UInt8>?
            var size = 0
            guard pixWriteMemJpeg(&bytes, &size, ready, 90, 0) == 0, let bytes else { return nil }
            defer { lept_free(bytes) }
            return Data(bytes: bytes, count: size)
        }
    }
}
