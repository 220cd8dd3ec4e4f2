import CTesseract

/// Table cells shaded with a halftone screen, as financial reports and forms print them. Tesseract's threshold
/// turns the screen's dots into a mesh over the digits, and its layout analysis drops such cells as pictures
/// (`table_04`: the q/q, y/y and Var columns were not read at all). Each screened rectangle is found and printed
/// again as black text on white: a pixel there is ink when it is dark itself and its 5×5 neighbourhood is darker
/// than the screen (a dot is dark, but its neighbourhood is the screen's grey).
enum ScreenedCells {
    /// A screen's 5×5 mean lies between these grey levels (ink is darker, paper lighter).
    static let screenMean: ClosedRange<Int32> = 150...224
    /// Mean absolute difference from the 5×5 mean above which a region is textured like a screen (a flat grey fill,
    /// a shadow on a photo, is below it).
    static let screenTexture: Int32 = 15
    /// A screened region is at least this wide after an opening that removes the grey rims of strokes.
    static let openingSide: Int32 = 15
    /// A cell is at least this large, and its screen covers this share of its rectangle (text holes the rest).
    static let minimumCell = (width: 40, height: 30)
    static let minimumFill = 0.7
    /// Ink inside a cell: darker than this itself, and its 5×5 mean darker than the screen.
    static let inkLevel: Int32 = 100

    /// Pages longer than this are not searched: the 5×5 mean flattens a screen of up to ~200–300 dpi, whose dots
    /// at 600 dpi are too far apart for it, and a page that large would hold several copies of itself in memory.
    static let largestSide = PageNormalizer.largePageSide

    /// The page with its screened cells cleaned, and how many there were; nil when it has none (or is not 8-bit,
    /// or is larger than `largestSide`).
    static func clean(_ page: LeptonicaImage) -> (page: LeptonicaImage, cells: Int)? {
        guard page.depth == 8, page.width >= 64, page.height >= 64, max(page.width, page.height) <= largestSide,
              let mean = page.transformed({ pixBlockconvGray($0, nil, 2, 2) }),
              let darkMean = LeptonicaImage(taking: pixThresholdToBinary(mean.pointer, screenMean.lowerBound)) else { return nil }
        let cells = find(page, mean: mean, darkMean: darkMean)
        guard !cells.isEmpty else { return nil }
        // Ink: dark itself and in its neighbourhood; drawn into each cell in place of the screen.
        guard let dark = page.transformed({ pixThresholdToBinary($0, inkLevel) }),
              let ink = LeptonicaImage(taking: pixAnd(nil, darkMean.pointer, dark.pointer)),
              let inkGray = ink.transformed({ pixConvertTo8($0, 0) }),
              let cleaned = page.transformed({ pixCopy(nil, $0) }) else { return nil }
        for cell in cells {
            pixRasterop(cleaned.pointer, Int32(cell.x), Int32(cell.y), Int32(cell.width), Int32(cell.height), PIX_SRC,
                        inkGray.pointer, Int32(cell.x), Int32(cell.y))
        }
        return (cleaned, cells.count)
    }

    /// The screened rectangles of a page, given its 5×5 mean and where that mean is darker than a screen.
    private static func find(_ page: LeptonicaImage, mean: LeptonicaImage, darkMean: LeptonicaImage) -> [OCRBox] {
        // Grey on average and textured: the screen, and the grey rims of strokes, which the opening removes.
        guard let belowPaper = LeptonicaImage(taking: pixThresholdToBinary(mean.pointer, screenMean.upperBound + 1)),
              let grey = LeptonicaImage(taking: pixSubtract(nil, belowPaper.pointer, darkMean.pointer)),
              let difference = LeptonicaImage(taking: pixAbsDifference(page.pointer, mean.pointer)),
              let texture = difference.transformed({ pixBlockconvGray($0, nil, 2, 2) }),
              let flat = texture.transformed({ pixThresholdToBinary($0, screenTexture) }),
              let screen = LeptonicaImage(taking: pixSubtract(nil, grey.pointer, flat.pointer)),
              let opened = screen.transformed({ pixOpenBrick(nil, $0, openingSide, openingSide) }),
              let boxes = pixConnComp(opened.pointer, nil, 8) else { return [] }
        defer {
            var owned: UnsafeMutablePointer<BOXA>? = boxes
            boxaDestroy(&owned)
        }
        var cells: [OCRBox] = []
        for index in 0..<boxaGetCount(boxes) {
            var x: Int32 = 0, y: Int32 = 0, width: Int32 = 0, height: Int32 = 0
            guard boxaGetBoxGeometry(boxes, index, &x, &y, &width, &height) == 0,
                  Int(width) >= minimumCell.width, Int(height) >= minimumCell.height,
                  let box = boxCreate(x, y, width, height) else { continue }
            defer {
                var owned: UnsafeMutablePointer<BOX>? = box
                boxDestroy(&owned)
            }
            var covered: Int32 = 0
            guard pixCountPixelsInRect(opened.pointer, box, &covered, nil) == 0,
                  Double(covered) >= minimumFill * Double(width) * Double(height) else { continue }
            cells.append(OCRBox(x: Int(x), y: Int(y), width: Int(width), height: Int(height)))
        }
        return cells
    }
}
