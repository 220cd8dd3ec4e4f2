import CTesseract
import Foundation

/// Page images as one PDF, a page per image, for a document sent one photo per page (an album, `/merge`,
/// `batch --merge-pattern`). A JPEG goes in as it is (its DCT data copied: no second lossy encoding), as do a
/// PNG's deflated rows and a G4 TIFF's; a JPEG that an EXIF tag turns is turned and encoded once at quality 90
/// so the page stands upright, and other images go in as Leptonica compresses them for their depth (G4 for
/// black and white, JPEG or Flate otherwise). Each page measures the image at its own resolution when that
/// makes a page of paper, otherwise at the resolution that gives the long edge an A4 page's 11.7 inches (a
/// phone photo's 72 dpi header would make a page a metre tall). Every header is checked against the pixel
/// limit before anything is decoded. Blocking CPU work: call it off the event loop.
///
/// Leptonica compresses; the PDF around the images is written here: Leptonica 1.82's own writer leaves out an
/// `endobj` (qpdf warns) and stamps the time, and the same pages should make the same bytes (one document,
/// stored once by SHA-256, however often they are sent).
public enum ImagePDF {
    /// The long edge of an A4 page, in inches.
    static let pageLongEdgeInches = 11.69
    /// A resolution outside this range is a header's accident, not a scan's.
    static let plausibleResolution = 100...1200
    static let reencodeQuality: Int32 = 90

    /// One page's image as the PDF holds it.
    struct Image {
        var dictionary: String
        var data: Data
        var width: Int
        var height: Int
        var resolution: Int
    }

    /// The PDF of `files` in order. Throws for a file that is not an image, unreadable or over the limits.
    public static func build(files: [String], limits: OCRLimits) throws(OCRError) -> Data {
        guard !files.isEmpty else { throw OCRError.emptyFile }
        var images: [Image] = []
        for file in files {
            images += try pageImages(file: file, limits: limits)
            guard images.count <= limits.maxPages else { throw OCRError.tooManyPages(pages: images.count, limit: limits.maxPages) }
        }
        return document(images)
    }

    /// The PDF around the images: catalog, page tree, then per page its page, content and image objects.
    static func document(_ images: [Image]) -> Data {
        var pdf = Data("%PDF-1.5\n%\u{E2}\u{E3}\u{CF}\u{D3}\n".utf8)
        var offsets: [Int] = []
        func object(_ body: Data) {
            offsets.append(pdf.count)
            pdf.append(Data("\(offsets.count) 0 obj\n".utf8))
            pdf.append(body)
            pdf.append(Data("\nendobj\n".utf8))
        }
        let kids = images.indices.map { "\(3 + $0 * 3) 0 R" }.joined(separator: " ")
        object(Data("<< /Type /Catalog /Pages 2 0 R >>".utf8))
        object(Data("<< /Type /Pages /Kids [\(kids)] /Count \(images.count) >>".utf8))
        for (index, image) in images.enumerated() {
            let page = 3 + index * 3
            let width = Double(image.width) * 72 / Double(image.resolution), height = Double(image.height) * 72 / Double(image.resolution)
            let size = String(format: "%.2f %.2f", width, height)
            object(Data("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 \(size)] /Contents \(page + 1) 0 R /Resources << /XObject << /Im1 \(page + 2) 0 R >> >> >>".utf8))
            let drawing = "q \(String(format: "%.2f 0 0 %.2f", width, height)) 0 0 cm /Im1 Do Q"
            object(Data("<< /Length \(drawing.utf8.count) >>\nstream\n\(drawing)\nendstream".utf8))
            var stream = Data("<< /Type /XObject /Subtype /Image /Width \(image.width) /Height \(image.height) \(image.dictionary) /Length \(image.data.count) >>\nstream\n".utf8)
            stream.append(image.data)
            stream.append(Data("\nendstream".utf8))
            object(stream)
        }
        let xref = pdf.count
        var table = "xref\n0 \(offsets.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { table += String(format: "%010d 00000 n \n", offset) }
        table += "trailer\n<< /Size \(offsets.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        pdf.append(Data(table.utf8))
        return pdf
    }
    /// The image file's pages (a multi-page TIFF has several), compressed for the PDF.
    private static func pageImages(file: String, limits: OCRLimits) throws(OCRError) -> [Image] {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: file), options: .mappedIfSafe)
        } catch {
            throw OCRError.fileUnreadable(path: file, reason: error.localizedDescription)
        }
        guard !bytes.isEmpty else { throw OCRError.emptyFile }
        guard bytes.count <= limits.maxBytes else { throw OCRError.fileTooLarge(bytes: bytes.count, limit: limits.maxBytes) }
        guard let format = DocumentFormat.detect(bytes.prefix(1024)), format != .pdf else {
            throw OCRError.unsupportedFormat(hint: "only images can be pages of a merged document")
        }
        let turn = format == .jpeg ? bytes.withUnsafeBytes { ExifOrientation.tag(inJPEG: $0) }.map(ExifOrientation.correction(for:)) : nil
        if format == .jpeg || format == .png, turn == nil || turn == ExifOrientation.Correction(quarterTurns: 0, mirror: false) {
            // As it is: check the header, then let Leptonica copy the compressed data.
            try checkHeader(bytes, format: format, limits: limits)
            var compressed: UnsafeMutablePointer<L_COMP_DATA>?
            guard l_generateCIDataForPdf(file, nil, 0, &compressed) == 0, compressed != nil else {
                throw OCRError.corrupt(format: format, reason: "image data could not be read")
            }
            return [try pageImage(&compressed, format: format)]
        }
        var result: [Image] = []
        do {
            try bytes.withUnsafeBytes { raw in
                try ImageDecoder(limits: limits, luminanceOnly: false).forEachPage(raw, format: format) { _, image in
                    var upright = image
                    if let turn {
                        if turn.mirror, let mirrored = upright.transformed({ pixFlipLR(nil, $0) }) { upright = mirrored }
                        if turn.quarterTurns > 0, let turned = upright.transformed({ pixRotateOrth($0, Int32(turn.quarterTurns)) }) { upright = turned }
                    }
                    var compressed: UnsafeMutablePointer<L_COMP_DATA>?
                    guard l_generateCIDataForPdf(nil, upright.pointer, reencodeQuality, &compressed) == 0, compressed != nil else {
                        throw OCRError.corrupt(format: format, reason: "image data could not be encoded")
                    }
                    result.append(try pageImage(&compressed, format: format))
                }
            }
        } catch {
            throw error as? OCRError ?? OCRError.corrupt(format: format, reason: "\(error)")
        }
        return result
    }

    /// The compressed image as a PDF image object's dictionary and stream; frees the compressed data.
    private static func pageImage(_ compressed: inout UnsafeMutablePointer<L_COMP_DATA>?, format: DocumentFormat) throws(OCRError) -> Image {
        defer { l_CIDataDestroy(&compressed) }
        guard let data = compressed?.pointee, let bytes = data.datacomp, data.nbytescomp > 0, data.w > 0, data.h > 0 else {
            throw OCRError.corrupt(format: format, reason: "image data could not be compressed")
        }
        let width = Int(data.w), height = Int(data.h)
        let colors = data.spp == 1 ? "/DeviceGray" : data.spp == 4 ? "/DeviceCMYK" : "/DeviceRGB"
        var dictionary: String
        switch Int(data.type) {
        case Int(L_JPEG_ENCODE):
            dictionary = "/ColorSpace \(colors) /BitsPerComponent 8 /Filter /DCTDecode"
        case Int(L_G4_ENCODE):
            dictionary = "/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns \(width) /Rows \(height)\(data.minisblack != 0 ? "" : " /BlackIs1 true") >>"
        case Int(L_FLATE_ENCODE):
            let space: String
            if data.ncolors > 0, let palette = data.cmapdatahex {
                space = "[/Indexed /DeviceRGB \(data.ncolors - 1) \(String(cString: palette))]"
            } else {
                space = colors
            }
            dictionary = "/ColorSpace \(space) /BitsPerComponent \(data.bps) /Filter /FlateDecode"
            if data.predictor != 0 {
                dictionary += " /DecodeParms << /Predictor 14 /Colors \(data.spp) /BitsPerComponent \(data.bps) /Columns \(width) >>"
            }
        case Int(L_JP2K_ENCODE):
            dictionary = "/ColorSpace \(colors) /Filter /JPXDecode"
        default:
            throw OCRError.corrupt(format: format, reason: "an image compression PDF cannot hold")
        }
        return Image(dictionary: dictionary, data: Data(bytes: bytes, count: data.nbytescomp), width: width, height: height,
                     resolution: resolution(width: width, height: height, declared: Int(data.res)))
    }

    /// The image's own resolution when it makes a page no longer than 17 inches (a legal page with room to
    /// spare), otherwise the one that makes the long edge an A4 page's.
    static func resolution(width: Int, height: Int, declared: Int) -> Int {
        let longEdge = Double(max(width, height, 1))
        if plausibleResolution.contains(declared), longEdge / Double(declared) <= 17 { return declared }
        return max(72, Int((longEdge / pageLongEdgeInches).rounded()))
    }

    private static func checkHeader(_ bytes: Data, format: DocumentFormat, limits: OCRLimits) throws(OCRError) {
        var imageFormat: Int32 = 0, width: Int32 = 0, height: Int32 = 0, bps: Int32 = 0, spp: Int32 = 0, colormap: Int32 = 0
        let read = bytes.withUnsafeBytes { raw in
            pixReadHeaderMem(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, &imageFormat, &width, &height, &bps, &spp, &colormap)
        }
        guard read == 0, width > 0, height > 0 else { throw OCRError.corrupt(format: format, reason: "unreadable header") }
        guard Int(width) * Int(height) <= limits.maxPixels else {
            throw OCRError.imageTooLarge(width: Int(width), height: Int(height), limitPixels: limits.maxPixels)
        }
    }
}
