import CTesseract

/// Decodes raster images with Leptonica, one page at a time, after checking each page's header
/// against the pixel limit so a decompression bomb is refused before a byte of it is inflated.
struct ImageDecoder {
    let limits: OCRLimits
    /// OCR needs grey only; page images for an analyser keep their colour.
    var luminanceOnly = true
    /// Page images are shrunk to this long edge anyway: libjpeg can decode at 1/2, 1/4 or 1/8 scale for far
    /// less work. Nil (OCR) decodes at full size.
    var targetLongEdge: Int?

    func forEachPage(_ bytes: UnsafeRawBufferPointer, format: DocumentFormat, _ body: (Int, LeptonicaImage) throws -> Void) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { throw OCRError.emptyFile }
        if format == .tiff {
            try forEachTIFFPage(base, bytes.count, body)
            return
        }
        var imageFormat: Int32 = 0, width: Int32 = 0, height: Int32 = 0, bps: Int32 = 0, spp: Int32 = 0, colormap: Int32 = 0
        guard pixReadHeaderMem(base, bytes.count, &imageFormat, &width, &height, &bps, &spp, &colormap) == 0 else {
            throw OCRError.corrupt(format: format, reason: "unreadable header")
        }
        try checkPixels(Int(width), Int(height), format)
        let decoded: UnsafeMutablePointer<Pix>?
        if format == .jpeg && luminanceOnly {
            // Luminance only: skips colour conversion we would throw away; fails on corrupt data.
            var warnings: Int32 = 0
            decoded = pixReadMemJpeg(base, bytes.count, 0, 1, &warnings, Int32(L_JPEG_READ_LUMINANCE))
        } else if format == .jpeg, let target = targetLongEdge, target > 0 {
            var reduction: Int32 = 1
            while reduction < 8 && Int(max(width, height)) / Int(reduction * 2) >= target { reduction *= 2 }
            var warnings: Int32 = 0
            decoded = pixReadMemJpeg(base, bytes.count, 0, reduction, &warnings, 0)
        } else {
            decoded = pixReadMem(base, bytes.count)
        }
        guard let image = LeptonicaImage(taking: decoded) else {
            throw OCRError.corrupt(format: format, reason: "image data could not be decoded")
        }
        try body(0, image)
    }

    private func forEachTIFFPage(_ base: UnsafePointer<UInt8>, _ count: Int, _ body: (Int, LeptonicaImage) throws -> Void) throws {
        // Check every page's header first: a bomb may hide on page 40.
        var pages = 0
        while true {
            var width: Int32 = 0, height: Int32 = 0, bps: Int32 = 0, spp: Int32 = 0, res: Int32 = 0, cmap: Int32 = 0, tiffFormat: Int32 = 0
            guard readHeaderMemTiff(base, count, Int32(pages), &width, &height, &bps, &spp, &res, &cmap, &tiffFormat) == 0 else { break }
            try checkPixels(Int(width), Int(height), .tiff)
            pages += 1
            guard pages <= limits.maxPages else { throw OCRError.tooManyPages(pages: pages, limit: limits.maxPages) }
        }
        guard pages > 0 else { throw OCRError.corrupt(format: .tiff, reason: "unreadable header") }
        var offset = 0
        for index in 0..<pages {
            guard let image = LeptonicaImage(taking: pixReadMemFromMultipageTiff(base, count, &offset)) else {
                throw OCRError.corrupt(format: .tiff, reason: "page \(index + 1) could not be decoded")
            }
            try body(index, image)
            if offset == 0 { break }
        }
    }

    private func checkPixels(_ width: Int, _ height: Int, _ format: DocumentFormat) throws {
        guard width > 0, height > 0 else { throw OCRError.corrupt(format: format, reason: "zero-sized image") }
        guard width.multipliedReportingOverflow(by: height).partialValue <= limits.maxPixels, width <= 65_535, height <= 65_535 else {
            throw OCRError.imageTooLarge(width: width, height: height, limitPixels: limits.maxPixels)
        }
    }
}
